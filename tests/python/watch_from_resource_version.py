"""As the official client's e2e test_watch: a watch from the resourceVersion of a list sees
exactly the changes made after that list (the create, patch and collection delete), and ends
after timeout_seconds."""

from common import core_api, expect, run, step, unique, watch_events


def config_map(name, value):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"key": value, "config": "dummy"}}


def scenario():
    api = core_api()
    namespace = unique("replayed")
    api.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    step(f"create configmap a, list, then create and patch b, delete the collection in {namespace}")
    api.create_namespaced_config_map(namespace, config_map("a", "a"))
    listed = api.list_namespaced_config_map(namespace)
    rv = listed.metadata.resource_version
    # kube-root-ca.crt is every namespace's (as on any cluster), not the test's.
    own = [i.metadata.name for i in listed.items if i.metadata.name != "kube-root-ca.crt"]
    expect(own, ["a"], "listed configmaps")
    api.create_namespaced_config_map(namespace, config_map("b", "b"))
    api.patch_namespaced_config_map("b", namespace, {"data": {"config": "{}"}})
    api.delete_collection_namespaced_config_map(namespace)

    step(f"watch from resourceVersion {rv}")
    events = watch_events(api.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=5)
    seen = [(kind, obj.metadata.name, (obj.data or {}).get("config")) for kind, obj in events]
    # The order of the two deletions is not guaranteed.
    expect(seen[:2], [("ADDED", "b", "dummy"), ("MODIFIED", "b", "{}")], "the first two events")
    expect(sorted(seen[2:]), [("DELETED", "a", "dummy"), ("DELETED", "b", "{}")], "the collection delete's events")


run(scenario)
