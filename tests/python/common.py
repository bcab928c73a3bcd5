"""Shared helpers of the Python-client scenarios that tests/tests/python_client.rs runs.

Each scenario is a script run by the venv python of tests/tools/install-python-client.sh with
KUBECONFIG naming the admin kubeconfig that `keelson up` wrote. A script prints each step,
and exits non-zero with a message naming the first mismatch.
"""

import sys
import uuid

from kubernetes import client, config
from kubernetes.client.rest import ApiException


class Mismatch(Exception):
    """What the server answered differs from what upstream Kubernetes answers."""


def core_api():
    """A CoreV1Api configured from $KUBECONFIG (TLS verified against the cluster CA)."""
    config.load_kube_config()
    return client.CoreV1Api()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def step(text):
    print(f"-- {text}", flush=True)


def expect(actual, expected, what):
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def expect_true(condition, what):
    if not condition:
        raise Mismatch(what)


def expect_api_error(status, what, call, *args, **kwargs):
    """Runs `call`, insisting the server answers it with HTTP `status`; returns the error."""
    try:
        answer = call(*args, **kwargs)
    except ApiException as err:
        expect(err.status, status, f"{what}: HTTP status (body: {err.body})")
        return err
    raise Mismatch(f"{what}: expected HTTP {status}, the call succeeded with {answer!r}")


def names(items):
    return sorted(item.metadata.name for item in items)


def run(scenario):
    """Runs `scenario()`; a mismatch or an unexpected API error exits 1 with its message."""
    try:
        scenario()
    except Mismatch as err:
        print(f"MISMATCH: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
    except ApiException as err:
        print(
            f"UNEXPECTED API ERROR: HTTP {err.status} {err.reason}\n"
            f"headers: {err.headers}\nbody: {err.body}",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
    print("OK", flush=True)


def watch_events(list_call, *args, stop=None, **kwargs):
    """Streams `watch.Watch().stream(list_call, *args, **kwargs)` and returns its events as
    (type, object) pairs, printing each; stops early once `stop(type, object)` is true. A
    stream the server never ends (timeout_seconds ignored) fails after a minute instead of
    hanging. The `kube-root-ca.crt` ConfigMap every namespace gets (as on any cluster) is
    not the test's: its events are left out."""
    from kubernetes import watch
    from urllib3.exceptions import ReadTimeoutError

    events = []
    w = watch.Watch()
    try:
        for event in w.stream(list_call, *args, _request_timeout=60, **kwargs):
            kind, obj = event["type"], event["object"]
            print(f"   event {kind} {obj.metadata.name} resourceVersion={obj.metadata.resource_version}", flush=True)
            if obj.metadata.name == "kube-root-ca.crt":
                continue
            events.append((kind, obj))
            if stop is not None and stop(kind, obj):
                w.stop()
    except ReadTimeoutError as err:
        raise Mismatch(f"the watch sent nothing for 60 s and did not end: {err}") from err
    return events
