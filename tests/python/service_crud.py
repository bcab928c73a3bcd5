"""CRUD of a Service through the official client, as its e2e test_service_apis does and more:
create, read, list by label selector, strategic-merge and JSON patches, replace (and a stale
replace refused), delete."""

from kubernetes.client import V1DeleteOptions, V1ServicePort

from common import core_api, expect, expect_api_error, expect_true, names, run, step, unique

NAMESPACE = "default"


def service(name, tier, port):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name, "tier": tier}},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": 8080}],
        },
    }


def ports(svc):
    return [(p.name, p.port, p.protocol, p.target_port) for p in svc.spec.ports]


def scenario():
    api = core_api()
    name = unique("frontend")
    other = unique("backend")

    step(f"create service {name}")
    created = api.create_namespaced_service(NAMESPACE, service(name, "frontend", 80))
    expect(created.metadata.name, name, "created name")
    expect(created.metadata.namespace, NAMESPACE, "created namespace")
    expect_true(created.metadata.uid, "the created service has a uid")
    expect_true(created.metadata.resource_version, "the created service has a resourceVersion")
    expect_true(created.status is not None, "the created service has a status")
    expect(created.spec.type, "ClusterIP", "defaulted spec.type")
    expect(created.spec.session_affinity, "None", "defaulted spec.sessionAffinity")
    expect(ports(created), [("http", 80, "TCP", 8080)], "created ports")
    cluster_ip = created.spec.cluster_ip
    expect_true(cluster_ip and cluster_ip.startswith("10."), f"a cluster IP is allocated: {cluster_ip!r}")
    expect(created.spec.cluster_i_ps, [cluster_ip], "spec.clusterIPs")

    step("read it back")
    read = api.read_namespaced_service(name, NAMESPACE)
    expect(read.metadata.uid, created.metadata.uid, "read uid")
    expect(read.metadata.labels, {"app": name, "tier": "frontend"}, "read labels")
    expect(read.spec.cluster_ip, cluster_ip, "read clusterIP")
    expect(ports(read), [("http", 80, "TCP", 8080)], "read ports")

    step(f"create service {other} with another tier; list by label selector")
    api.create_namespaced_service(NAMESPACE, service(other, "backend", 81))
    expect(
        names(api.list_namespaced_service(NAMESPACE, label_selector="tier=frontend").items),
        [name],
        "services with tier=frontend",
    )
    expect(
        names(api.list_namespaced_service(NAMESPACE, label_selector="tier in (frontend,backend)").items),
        sorted([name, other]),
        "services with tier in (frontend,backend)",
    )
    expect(
        names(api.list_namespaced_service(NAMESPACE, label_selector="tier,tier!=frontend").items),
        [other],
        "services with tier,tier!=frontend",
    )
    listed = api.list_namespaced_service(NAMESPACE)
    expect_true(listed.metadata.resource_version, "the list has a resourceVersion")
    expect(names(listed.items), sorted([name, other, "kubernetes"]), "every service of the namespace")

    step("strategic-merge patch adding a port (merged by port, as upstream's e2e test expects)")
    patch = service(name, "frontend", 80)
    patch["spec"]["ports"] = [{"name": "new", "port": 8080, "protocol": "TCP", "targetPort": 8080}]
    patched = api.patch_namespaced_service(name, NAMESPACE, patch)
    # Upstream's merge (mergeSortedSlice) puts the patch's items that the live list lacks
    # before the live-only items.
    expect(ports(patched), [("new", 8080, "TCP", 8080), ("http", 80, "TCP", 8080)], "ports after the patch")
    expect(patched.spec.cluster_ip, cluster_ip, "clusterIP after the patch")
    expect_true(
        int(patched.metadata.resource_version) > int(created.metadata.resource_version),
        "the patch bumped the resourceVersion",
    )

    step("JSON patch of a label and the selector")
    patched = api.patch_namespaced_service(
        name,
        NAMESPACE,
        [
            {"op": "add", "path": "/metadata/labels/patched", "value": "json"},
            {"op": "replace", "path": "/spec/selector", "value": {"app": "other"}},
        ],
    )
    expect(patched.metadata.labels.get("patched"), "json", "label added by the JSON patch")
    expect(patched.spec.selector, {"app": "other"}, "selector replaced by the JSON patch")

    step("replace with one port")
    current = api.read_namespaced_service(name, NAMESPACE)
    current.spec.ports = [V1ServicePort(name="only", port=9090, protocol="TCP", target_port=9090)]
    current.metadata.labels["replaced"] = "yes"
    replaced = api.replace_namespaced_service(name, NAMESPACE, current)
    expect(ports(replaced), [("only", 9090, "TCP", 9090)], "ports after the replace")
    expect(replaced.metadata.labels.get("replaced"), "yes", "label after the replace")
    expect(replaced.spec.cluster_ip, cluster_ip, "clusterIP after the replace")
    expect(replaced.metadata.uid, created.metadata.uid, "uid after the replace")
    expect(ports(api.read_namespaced_service(name, NAMESPACE)), [("only", 9090, "TCP", 9090)], "ports read back")

    step("a replace with the stale resourceVersion is a conflict and changes nothing")
    current.spec.ports[0].port = 9999
    expect_api_error(409, "stale replace", api.replace_namespaced_service, name, NAMESPACE, current)
    expect(ports(api.read_namespaced_service(name, NAMESPACE)), [("only", 9090, "TCP", 9090)], "ports after the refused replace")

    step("delete both")
    deleted = api.delete_namespaced_service(name, NAMESPACE, body={})
    expect(deleted.metadata.name, name, "the deleted object's name")
    api.delete_namespaced_service(other, NAMESPACE, body=V1DeleteOptions(grace_period_seconds=0))
    expect_api_error(404, "read after delete", api.read_namespaced_service, name, NAMESPACE)
    expect_api_error(404, "delete again", api.delete_namespaced_service, name, NAMESPACE)
    expect(
        names(api.list_namespaced_service(NAMESPACE, label_selector="tier").items),
        [],
        "services with a tier after the deletes",
    )


run(scenario)
