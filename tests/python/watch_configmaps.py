"""watch.Watch().stream(v1.list_namespaced_config_map, namespace, timeout_seconds=...) (the
client sends watch=True) sees ADDED for what exists when it starts, then ADDED, MODIFIED and
DELETED for changes made while it watches, in order; a watch with nothing to report ends by
itself after timeout_seconds."""

import threading
import time

from common import Mismatch, core_api, expect, expect_true, run, step, unique, watch_events


def config_map(name, value):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"key": value}}


def scenario():
    api = core_api()
    namespace = unique("watched")
    step(f"create namespace {namespace} and configmap 'before' in it")
    api.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    api.create_namespaced_config_map(namespace, config_map("before", "0"))

    started = threading.Event()
    failure = []

    def make_changes():
        try:
            if not started.wait(30):
                failure.append("the watch saw no first event within 30 s")
                return
            step("changes while watching: create, patch, replace, delete 'live', delete 'before'")
            api.create_namespaced_config_map(namespace, config_map("live", "1"))
            api.patch_namespaced_config_map("live", namespace, {"data": {"key": "2"}})
            current = api.read_namespaced_config_map("live", namespace)
            current.data = {"key": "3"}
            api.replace_namespaced_config_map("live", namespace, current)
            api.delete_namespaced_config_map("live", namespace)
            api.delete_namespaced_config_map("before", namespace)
        except Exception as err:  # reported by the main thread
            failure.append(f"making the changes failed: {err!r}")

    changer = threading.Thread(target=make_changes, daemon=True)
    changer.start()

    step("watch the namespace's configmaps")

    def observe(kind, obj):
        started.set()
        return kind == "DELETED" and obj.metadata.name == "before"

    began = time.monotonic()
    events = watch_events(api.list_namespaced_config_map, namespace, timeout_seconds=30, stop=observe)
    seen = [((kind, obj.metadata.name, (obj.data or {}).get("key")), obj.metadata.resource_version) for kind, obj in events]
    changer.join(30)
    if failure:
        raise Mismatch(failure[0])
    expect_true(time.monotonic() - began < 30, "the watch delivered every event before its timeout")
    expect(
        [entry for entry, _ in seen],
        [
            ("ADDED", "before", "0"),
            ("ADDED", "live", "1"),
            ("MODIFIED", "live", "2"),
            ("MODIFIED", "live", "3"),
            ("DELETED", "live", "3"),
            ("DELETED", "before", "0"),
        ],
        "the watch's events",
    )
    versions = [int(rv) for _, rv in seen[1:]]
    expect(versions, sorted(set(versions)), "resourceVersions of the events after the initial ADDED increase")

    step("a watch with nothing to report ends after timeout_seconds=2")
    began = time.monotonic()
    quiet = watch_events(api.list_namespaced_config_map, namespace, timeout_seconds=2)
    elapsed = time.monotonic() - began
    expect(quiet, [], "events of the quiet watch")
    expect_true(1.5 <= elapsed < 15, f"the quiet watch ended after {elapsed:.1f} s, not about 2 s")


run(scenario)
