"""CRUD of ConfigMaps through the official client, as its e2e test_configmap_apis does and more:
create (data and binaryData), read, list by label and field selector, JSON and
strategic-merge patches, replace (and a stale replace refused), delete, delete a collection."""

import base64

from common import core_api, expect, expect_api_error, expect_true, names, run, step, unique

NAMESPACE = "default"
CONFIG_JSON = '{"command":"/usr/bin/mysqld_safe"}'
FRONTEND_CNF = "[mysqld]\nbind-address = 10.0.0.3\nport = 3306\n"
BLOB = base64.b64encode(bytes(range(256))).decode()


def config_map(name, labels, data):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": data,
    }


def scenario():
    api = core_api()
    name = unique("test-configmap")
    body = config_map(name, {"e2e-tests": "true"}, {"config.json": CONFIG_JSON, "frontend.cnf": FRONTEND_CNF})
    body["binaryData"] = {"blob": BLOB}

    step(f"create configmap {name}")
    created = api.create_namespaced_config_map(NAMESPACE, body)
    expect(created.metadata.name, name, "created name")
    expect(created.data, {"config.json": CONFIG_JSON, "frontend.cnf": FRONTEND_CNF}, "created data")
    expect(created.binary_data, {"blob": BLOB}, "created binaryData")
    expect_true(created.metadata.uid and created.metadata.resource_version, "uid and resourceVersion set")
    expect_true(created.metadata.creation_timestamp is not None, "creationTimestamp set")

    step("read it back")
    read = api.read_namespaced_config_map(name, NAMESPACE)
    expect(read.metadata.uid, created.metadata.uid, "read uid")
    expect(read.metadata.resource_version, created.metadata.resource_version, "read resourceVersion")
    expect(read.data, created.data, "read data")
    expect(read.binary_data, {"blob": BLOB}, "read binaryData")

    step("list by label and by field selector")
    plain = unique("plain")
    api.create_namespaced_config_map(NAMESPACE, config_map(plain, {"e2e-tests": "false"}, {"a": "b"}))
    expect(names(api.list_namespaced_config_map(NAMESPACE, label_selector="e2e-tests=true").items), [name], "configmaps with e2e-tests=true")
    expect(names(api.list_namespaced_config_map(NAMESPACE, label_selector="e2e-tests").items), sorted([name, plain]), "configmaps with e2e-tests")
    expect(names(api.list_namespaced_config_map(NAMESPACE, field_selector=f"metadata.name={plain}").items), [plain], f"configmaps with metadata.name={plain}")
    expect(
        names(api.list_config_map_for_all_namespaces(label_selector="e2e-tests!=false,e2e-tests").items),
        [name],
        "configmaps of all namespaces with e2e-tests!=false,e2e-tests",
    )

    step("JSON patch replacing the data")
    patched = api.patch_namespaced_config_map(
        name, NAMESPACE, [{"op": "replace", "path": "/data", "value": {"new_value": "json_patch_name"}}]
    )
    expect(patched.data, {"new_value": "json_patch_name"}, "data after the JSON patch")
    expect(patched.binary_data, {"blob": BLOB}, "binaryData after the JSON patch")

    step("strategic-merge patch adding a key and a label")
    patched = api.patch_namespaced_config_map(
        name, NAMESPACE, {"metadata": {"labels": {"patched": "yes"}}, "data": {"merged": "merge_patch_name"}}
    )
    expect(patched.data, {"new_value": "json_patch_name", "merged": "merge_patch_name"}, "data after the strategic-merge patch")
    expect(patched.metadata.labels, {"e2e-tests": "true", "patched": "yes"}, "labels after the strategic-merge patch")

    step("replace the whole object")
    current = api.read_namespaced_config_map(name, NAMESPACE)
    current.data = {"only": "replaced"}
    current.binary_data = None
    replaced = api.replace_namespaced_config_map(name, NAMESPACE, current)
    expect(replaced.data, {"only": "replaced"}, "data after the replace")
    expect(replaced.binary_data, None, "binaryData after the replace")
    expect(replaced.metadata.uid, created.metadata.uid, "uid after the replace")
    expect_true(
        int(replaced.metadata.resource_version) > int(current.metadata.resource_version),
        "the replace bumped the resourceVersion",
    )

    step("a replace with the stale resourceVersion is a conflict and changes nothing")
    current.data = {"only": "stale"}
    expect_api_error(409, "stale replace", api.replace_namespaced_config_map, name, NAMESPACE, current)
    expect(api.read_namespaced_config_map(name, NAMESPACE).data, {"only": "replaced"}, "data after the refused replace")

    step("delete it")
    api.delete_namespaced_config_map(name, NAMESPACE, body={})
    expect_api_error(404, "read after delete", api.read_namespaced_config_map, name, NAMESPACE)
    expect(names(api.list_namespaced_config_map(NAMESPACE, label_selector="e2e-tests=true").items), [], "configmaps with e2e-tests=true after the delete")

    step("delete a collection by label selector")
    doomed = [unique("doomed") for _ in range(3)]
    for each in doomed:
        api.create_namespaced_config_map(NAMESPACE, config_map(each, {"doomed": "yes"}, {"k": each}))
    expect(names(api.list_namespaced_config_map(NAMESPACE, label_selector="doomed=yes").items), sorted(doomed), "doomed configmaps")
    api.delete_collection_namespaced_config_map(NAMESPACE, label_selector="doomed=yes")
    expect(names(api.list_namespaced_config_map(NAMESPACE, label_selector="doomed=yes").items), [], "doomed configmaps after the collection delete")
    expect(api.read_namespaced_config_map(plain, NAMESPACE).data, {"a": "b"}, "the unlabelled configmap survives")


run(scenario)
