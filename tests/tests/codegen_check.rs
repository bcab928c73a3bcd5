//! `codegen --check` passes on the committed generated files and fails, naming the file,
//! when one is stale or extra.

use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn check_catches_stale_and_extra_files() {
    let codegen = keelson_tests::keelson_bin().with_file_name("codegen");
    assert!(
        codegen.exists(),
        "codegen is not built at {}",
        codegen.display()
    );
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = tempfile::tempdir().expect("temp dir");
    let generated = root.path().join("apiserver/src/generated");
    for dir in [
        "apiserver/src/generated",
        "reconcilers/src/generated",
        "apis/src/generated/crds",
    ] {
        copy_dir(&workspace.join(dir), &root.path().join(dir));
    }
    let check = || {
        Command::new(&codegen)
            .arg("--check")
            .arg("--root")
            .arg(root.path())
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("codegen")
    };

    let fresh = check();
    assert!(
        fresh.status.success(),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );

    let routes = generated.join("routes.rs");
    let mut text = std::fs::read_to_string(&routes).expect("routes");
    text.push_str("// edited by hand\n");
    std::fs::write(&routes, text).expect("write");
    let stale = check();
    assert!(!stale.status.success());
    assert!(String::from_utf8_lossy(&stale.stderr).contains("routes.rs"));

    // Regenerating fixes it; an extra file is stale too.
    let regenerate = Command::new(&codegen)
        .arg("--root")
        .arg(root.path())
        .output()
        .expect("codegen");
    assert!(regenerate.status.success());
    assert!(check().status.success());
    std::fs::write(generated.join("discovery/extra.json"), "{}").expect("write");
    let extra = check();
    assert!(!extra.status.success());
    assert!(String::from_utf8_lossy(&extra.stderr).contains("extra.json"));
}
