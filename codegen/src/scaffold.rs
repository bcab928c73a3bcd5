//! `codegen new`: scaffolds a custom resource for operator developers — its Rust type in
//! `apis/src/crds/`, its registration (served by Keelson as a built-in, its CRD manifest
//! written by codegen), a reconciler over its typed shared informer registered with the
//! controller manager, and a test that runs the reconciler against an in-process Keelson.
//! The scaffold compiles and its test passes as generated; the type and the reconcile
//! logic are then the developer's to change.

use std::path::Path;

use anyhow::{bail, Context};

/// What `codegen new` is asked for.
pub struct NewKind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespaced: bool,
}

/// Where a registration line goes: after the marker comment in a file.
const CRDS_MARKER: &str = "        // codegen new: registrations\n";
const CONTROLLERS_MARKER: &str = "    // codegen new: controllers\n";

/// `MyThing` -> `my_thing`.
pub fn snake(kind: &str) -> String {
    let mut out = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn check(new: &NewKind) -> anyhow::Result<()> {
    let kind_ok = new
        .kind
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase())
        && new.kind.chars().all(|c| c.is_ascii_alphanumeric());
    if !kind_ok {
        bail!(
            "--kind must be an UpperCamelCase name such as Widget, not {:?}",
            new.kind
        );
    }
    let label = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    };
    if !label(&new.group) || !new.group.contains('.') {
        bail!(
            "--group must be a DNS subdomain with a dot, such as example.com, not {:?}",
            new.group
        );
    }
    if !label(&new.version) || new.version.contains('.') {
        bail!(
            "--version must be a DNS label such as v1alpha1, not {:?}",
            new.version
        );
    }
    Ok(())
}

/// The files of the scaffold, by path relative to the workspace root.
pub fn files(new: &NewKind) -> Vec<(String, String)> {
    let snake = snake(&new.kind);
    vec![
        (format!("apis/src/crds/{snake}.rs"), type_file(new)),
        (
            format!("reconcilers/src/controllers/{snake}.rs"),
            reconciler_file(new),
        ),
        (format!("tests/tests/{snake}.rs"), test_file(new)),
    ]
}

fn type_file(new: &NewKind) -> String {
    let NewKind {
        group,
        version,
        kind,
        ..
    } = new;
    let namespaced = if new.namespaced {
        "\n    namespaced,"
    } else {
        ""
    };
    let protected = group.ends_with("k8s.io") || group.ends_with("kubernetes.io");
    let approval = if protected {
        "\n    annotation(\"api-approved.kubernetes.io\", \"unapproved, experimental-only\"),"
    } else {
        ""
    };
    format!(
        r#"//! `{kind}` (`{group}/{version}`), scaffolded by `cargo run --bin codegen -- new`. Change
//! the spec and status as the resource needs; `cargo run --bin codegen` rewrites its CRD
//! manifest from this type.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{{Deserialize, Serialize}};

#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "{group}",
    version = "{version}",
    kind = "{kind}",{namespaced}{approval}
    status = "{kind}Status"
)]
#[serde(rename_all = "camelCase")]
pub struct {kind}Spec {{
    /// What this {kind} asks for.
    pub message: String,
}}

/// What the reconciler last did.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct {kind}Status {{
    /// The generation of the spec the reconciler last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}}
"#
    )
}

fn reconciler_file(new: &NewKind) -> String {
    let NewKind {
        group,
        version,
        kind,
        ..
    } = new;
    let snake = snake(kind);
    let name = snake.replace('_', "-");
    let api = if new.namespaced {
        "let Some(namespace) = obj.namespace() else {\n            return Ok(Action::await_change());\n        };\n        let api: Api<KIND> = Api::namespaced(ctx.client.clone(), &namespace);"
    } else {
        "let api: Api<KIND> = Api::all(ctx.client.clone());"
    }
    .replace("KIND", kind);
    format!(
        r#"//! `{name}-controller`: reconciles `{kind}` objects (`{group}/{version}`), scaffolded by
//! `cargo run --bin codegen -- new`. It reads them through the shared informer and records
//! the generation it acted on in `status.observedGeneration`; the work the resource asks
//! for goes in `reconcile`.

use std::sync::Arc;

use keelson_apis::crds::{snake}::{{{kind}, {kind}Status}};
use kube::api::{{Patch, PatchParams}};
use kube::runtime::controller::Action;
use kube::{{Api, ResourceExt}};

use crate::{{Context, Error, Reconciler}};

pub struct {kind}Reconciler;

impl Reconciler for {kind}Reconciler {{
    type Object = {kind};
    const NAME: &'static str = "{name}-controller";

    async fn reconcile(&self, obj: Arc<{kind}>, ctx: Arc<Context>) -> Result<Action, Error> {{
        let generation = obj.metadata.generation;
        if obj.status.as_ref().and_then(|s| s.observed_generation) == generation {{
            return Ok(Action::await_change());
        }}
        {api}
        let status = {kind}Status {{
            observed_generation: generation,
        }};
        let patch = serde_json::json!({{ "status": status }});
        api.patch_status(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(Action::await_change())
    }}
}}
"#
    )
}

fn test_file(new: &NewKind) -> String {
    let kind = &new.kind;
    let snake = snake(kind);
    let api = if new.namespaced {
        "Api::namespaced(client, \"default\")"
    } else {
        "Api::all(client)"
    };
    format!(
        r#"//! The `{kind}` reconciler against an in-process Keelson (scaffolded by
//! `cargo run --bin codegen -- new`).

use std::sync::Arc;
use std::time::Duration;

use keelson_apis::crds::{snake}::{{{kind}, {kind}Spec}};
use keelson_reconcilers::controllers::{snake}::{kind}Reconciler;
use keelson_reconcilers::{{run, Context}};
use keelson_tests::in_process::InProcess;
use kube::Api;

#[tokio::test(flavor = "multi_thread")]
async fn the_reconciler_records_the_generation_it_acted_on() {{
    let cluster = InProcess::start().await;
    let client = cluster.client();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let ctx = Arc::new(Context::new(client.clone()));
    tokio::spawn(run({kind}Reconciler, ctx, shutdown.clone()));
    let api: Api<{kind}> = {api};
    let obj = {kind}::new(
        "example",
        {kind}Spec {{
            message: "hello".into(),
        }},
    );
    api.create(&Default::default(), &obj)
        .await
        .expect("create the {kind}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {{
        let seen = api.get("example").await.expect("read the {kind}");
        if seen.status.and_then(|s| s.observed_generation) == Some(1) {{
            break;
        }}
        assert!(
            std::time::Instant::now() < deadline,
            "the reconciler did not record generation 1"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }}
    shutdown.cancel();
}}
"#
    )
}

/// Inserts `line` after the last line starting with `after_prefix`, or before `marker`.
fn insert(path: &Path, marker: &str, line: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if text.contains(line) {
        return Ok(());
    }
    let Some(at) = text.find(marker) else {
        bail!(
            "{} has no `{}` line to register at",
            path.display(),
            marker.trim()
        );
    };
    let updated = format!("{}{line}{}", &text[..at], &text[at..]);
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}

/// Adds `pub mod NAME;` after the last `pub mod` line of a module file.
fn add_module(path: &Path, module: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let line = format!("pub mod {module};\n");
    if text.contains(&line) {
        return Ok(());
    }
    let Some(last) = text.rfind("\npub mod ") else {
        bail!("{} has no `pub mod` lines", path.display());
    };
    let end = text[last + 1..]
        .find('\n')
        .map_or(text.len(), |i| last + 1 + i + 1);
    let updated = format!("{}{line}{}", &text[..end], &text[end..]);
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the scaffold into the workspace at `root` and registers it.
pub fn write(root: &Path, new: &NewKind) -> anyhow::Result<Vec<String>> {
    check(new)?;
    let files = files(new);
    for (path, _) in &files {
        if root.join(path).exists() {
            bail!("{path} exists already: {} is scaffolded", new.kind);
        }
    }
    for (path, contents) in &files {
        std::fs::write(root.join(path), contents)
            .with_context(|| format!("cannot write {path}"))?;
    }
    let snake = snake(&new.kind);
    add_module(&root.join("apis/src/crds/mod.rs"), &snake)?;
    insert(
        &root.join("apis/src/crds/mod.rs"),
        CRDS_MARKER,
        &format!("        {snake}::{}::crd(),\n", new.kind),
    )?;
    add_module(&root.join("reconcilers/src/controllers/mod.rs"), &snake)?;
    let name = snake.replace('_', "-");
    insert(
        &root.join("reconcilers/src/manager.rs"),
        CONTROLLERS_MARKER,
        &format!(
            "    known!(\"{name}-controller\", [\"{name}\"], true, controllers::{snake}::{}Reconciler),\n",
            new.kind
        ),
    )?;
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_become_module_names() {
        assert_eq!(snake("Widget"), "widget");
        assert_eq!(snake("MyThing"), "my_thing");
    }

    #[test]
    fn bad_names_are_refused() {
        let mut new = NewKind {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "widget".into(),
            namespaced: true,
        };
        assert!(check(&new).is_err());
        new.kind = "Widget".into();
        assert!(check(&new).is_ok());
        new.group = "example".into();
        assert!(check(&new).is_err());
    }
}
