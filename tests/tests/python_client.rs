//! The official Kubernetes Python client (PyPI `kubernetes`, installed into a venv by
//! tests/tools/install-python-client.sh) against `keelson up`: each test runs one scenario
//! script of tests/python/, modelled on the client's own e2e tests, which exits non-zero
//! naming the first answer that differs from upstream's.

use keelson_tests::python::script_passes;

#[test]
fn service_create_read_list_patch_replace_delete() {
    script_passes("service_crud.py");
}

#[test]
fn configmap_create_read_list_patch_replace_delete() {
    script_passes("configmap_crud.py");
}

#[test]
fn watch_stream_sees_changes_made_while_watching() {
    script_passes("watch_configmaps.py");
}

#[test]
fn watch_stream_from_a_listed_resource_version() {
    script_passes("watch_from_resource_version.py");
}
