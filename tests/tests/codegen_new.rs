//! `codegen new` as an operator developer runs it: in a copy of this workspace, the scaffold
//! of a new kind compiles, its test (the reconciler against an in-process Keelson) passes,
//! regenerating writes its CRD manifest, and `codegen --check` is clean afterwards.
//!
//! The copy builds with this build's target directory, so only the workspace's own crates
//! are compiled again. Its codegen binary is renamed so that it does not replace this
//! workspace's `target/debug/codegen`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace")
}

/// target/debug/<this test> -> target
fn target_dir() -> PathBuf {
    keelson_tests::keelson_bin()
        .parent()
        .and_then(Path::parent)
        .expect("the target dir")
        .to_path_buf()
}

fn run(what: &str, command: &mut Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn cargo(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir());
    command
}

/// The tracked files of the workspace, copied with their times (so that what did not
/// change is not compiled again on the next run).
fn copy_workspace(to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("the copy's directory");
    let files = run(
        "git ls-files",
        Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(workspace()),
    );
    let mut copy = Command::new("xargs");
    copy.args(["-0", "cp", "-p", "--parents", "-t"])
        .arg(to)
        .current_dir(workspace())
        .stdin(std::process::Stdio::piped());
    let mut child = copy.spawn().expect("xargs cp");
    if let Some(mut stdin) = child.stdin.take() {
        std::io::Write::write_all(&mut stdin, &files.stdout).expect("file list");
    }
    assert!(
        child.wait().expect("xargs cp").success(),
        "copying the workspace failed"
    );
    let manifest = to.join("codegen/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("codegen's manifest");
    let renamed = text.replace("name = \"codegen\"", &format!("name = \"{COPY_CODEGEN}\""));
    assert_ne!(text, renamed, "codegen's binary is named in its manifest");
    std::fs::write(&manifest, renamed).expect("codegen's manifest");
}

/// The name of the copy's codegen binary.
const COPY_CODEGEN: &str = "codegen-of-scaffold-check";

#[test]
fn a_scaffolded_kind_compiles_and_its_test_passes_as_generated() {
    let codegen = keelson_tests::keelson_bin().with_file_name("codegen");
    let copy = target_dir().join("codegen-new-workspace");
    copy_workspace(&copy);
    run(
        "codegen new",
        Command::new(&codegen).current_dir(&copy).args([
            "new",
            "--group",
            "example.com",
            "--version",
            "v1",
            "--kind",
            "Widget",
            "--namespaced",
            "--no-regenerate",
        ]),
    );
    for file in [
        "apis/src/crds/widget.rs",
        "reconcilers/src/controllers/widget.rs",
        "tests/tests/widget.rs",
    ] {
        assert!(copy.join(file).is_file(), "{file} was not written");
    }
    // Scaffolding the same kind again is refused, and changes nothing.
    let again = Command::new(&codegen)
        .current_dir(&copy)
        .args([
            "new",
            "--group",
            "example.com",
            "--version",
            "v1",
            "--kind",
            "Widget",
            "--no-regenerate",
        ])
        .output()
        .expect("codegen new again");
    assert!(!again.status.success());

    run(
        "the scaffold's test",
        &mut cargo(&copy, &["test", "-p", "keelson-tests", "--test", "widget"]),
    );
    run(
        "regenerating",
        &mut cargo(&copy, &["run", "--quiet", "--bin", COPY_CODEGEN]),
    );
    let manifest = copy.join("apis/src/generated/crds/widgets.example.com.yaml");
    let yaml = std::fs::read_to_string(&manifest).expect("the Widget CRD manifest");
    assert!(yaml.contains("kind: Widget"), "{yaml}");
    run(
        "codegen --check",
        &mut cargo(
            &copy,
            &["run", "--quiet", "--bin", COPY_CODEGEN, "--", "--check"],
        ),
    );
}
