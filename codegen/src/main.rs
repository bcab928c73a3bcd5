//! `codegen`: derives Keelson's generated files from the resource catalogue (`keelson-apis`).
//!
//! It writes, under `apiserver/src/generated/`: the route table binding every served
//! resource to the generic registry with its `/registry/...` storage prefix, the discovery
//! documents (plain and aggregated) and one OpenAPI v3 document per group version; under
//! `reconcilers/src/generated/`, a typed accessor of the shared informer of every resource.
//! `--check` writes nothing and fails when a file on disk differs from what it would write,
//! so CI catches a catalogue change whose generated files were not refreshed.

mod generate;
mod scaffold;

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "codegen",
    about = "Regenerate Keelson's generated files from the catalogue"
)]
struct Cli {
    /// Fail if a generated file is stale instead of writing it.
    #[arg(long)]
    check: bool,
    /// The workspace root [default: the nearest directory at or above the current one that
    /// holds `codegen/Cargo.toml`]
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Scaffold a custom resource: its type in apis/src/crds/, its registration, a
    /// reconciler over its typed informer and a test against an in-process Keelson; then
    /// regenerate (its CRD manifest).
    New {
        /// The API group, such as example.com.
        #[arg(long)]
        group: String,
        /// The version, such as v1alpha1.
        #[arg(long)]
        version: String,
        /// The kind, such as Widget.
        #[arg(long)]
        kind: String,
        /// Whether objects live in namespaces (cluster-scoped otherwise).
        #[arg(long)]
        namespaced: bool,
        /// Leave regenerating (`cargo run --bin codegen`) to the caller.
        #[arg(long)]
        no_regenerate: bool,
    },
}

/// The workspace this is run in. Not the one the binary was built from: clones may share a
/// target directory, so one binary serves several checkouts.
fn find_root() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("the current directory")?;
    cwd.ancestors()
        .find(|dir| dir.join("codegen/Cargo.toml").is_file())
        .map(PathBuf::from)
        .with_context(|| {
            format!(
                "{} is not inside the Keelson workspace (give --root)",
                cwd.display()
            )
        })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = match cli.root {
        Some(root) => root,
        None => find_root()?,
    };
    let root = root.canonicalize().unwrap_or(root);
    if let Some(Command::New {
        group,
        version,
        kind,
        namespaced,
        no_regenerate,
    }) = cli.command
    {
        let new = scaffold::NewKind {
            group,
            version,
            kind,
            namespaced,
        };
        for path in scaffold::write(&root, &new)? {
            println!("wrote {path}");
        }
        if no_regenerate {
            return Ok(());
        }
        // The new type is compiled into codegen before its CRD manifest can be written.
        let status = std::process::Command::new("cargo")
            .args(["run", "--quiet", "--bin", "codegen", "--", "--root"])
            .arg(&root)
            .current_dir(&root)
            .status()
            .context("cannot run cargo to regenerate")?;
        if !status.success() {
            bail!("regenerating failed; fix the scaffold and run `cargo run --bin codegen`");
        }
        return Ok(());
    }
    let files = generate::all();
    let mut stale = Vec::new();
    for file in &files {
        let path = root.join(file.dir).join(&file.path);
        let current = std::fs::read(&path).ok();
        if current.as_deref() == Some(file.contents.as_bytes()) {
            continue;
        }
        if cli.check {
            stale.push(format!("{}/{}", file.dir, file.path));
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    // Files that codegen no longer produces are stale too.
    let expected: std::collections::BTreeSet<PathBuf> = files
        .iter()
        .map(|f| root.join(f.dir).join(&f.path))
        .collect();
    let existing = generate::OUTPUT_DIRS
        .iter()
        .flat_map(|dir| existing_files(&root.join(dir)));
    for path in existing {
        if !expected.contains(&path) {
            if cli.check {
                stale.push(path.display().to_string());
            } else {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                println!("removed {}", path.display());
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated files are stale (run `cargo run --bin codegen`): {}",
            stale.join(", ")
        );
    }
    Ok(())
}

fn existing_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}
