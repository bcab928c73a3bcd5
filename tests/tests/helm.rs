//! The real helm 4 against `keelson up`: install, upgrade and roll back a local chart
//! (tests/fixtures/chart-web) with helm's default server-side apply, reading every state back
//! with kubectl.

use keelson_tests::cluster::KeelsonUp;
use keelson_tests::helm::{fixture, Helm};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// What the release `web` made, as read back with kubectl.
#[derive(Debug, PartialEq)]
struct Released {
    password: String,
    /// (name, port, targetPort) of each Service port.
    ports: Vec<(String, i64, String)>,
    settings: Value,
}

fn read_back(k: &KeelsonUp) -> Released {
    let secret = json(&k.ok(&["get", "secret", "web-credentials", "-o", "json"]));
    assert!(
        secret.get("stringData").is_none(),
        "stringData is write-only: it is merged into data and not stored: {secret}"
    );
    assert_eq!(secret["type"], "Opaque", "{secret}");
    let password = k.ok(&[
        "get",
        "secret",
        "web-credentials",
        "-o",
        "go-template={{.data.password | base64decode}}",
    ]);
    let service = json(&k.ok(&["get", "service", "web-web", "-o", "json"]));
    let ports = service["spec"]["ports"]
        .as_array()
        .unwrap_or_else(|| panic!("the Service has no ports: {service}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["port"].as_i64().unwrap_or_default(),
                p["targetPort"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let settings = json(&k.ok(&["get", "configmap", "web-settings", "-o", "json"]));
    Released {
        password,
        ports,
        settings: settings["data"].clone(),
    }
}

fn released(password: &str, port: i64) -> Released {
    Released {
        password: password.to_string(),
        ports: vec![("http".to_string(), port, "http".to_string())],
        settings: serde_json::json!({"greeting": "hello", "port": port.to_string()}),
    }
}

/// The managers of `kind/name` that wrote it with a server-side apply.
fn appliers(k: &KeelsonUp, what: &str) -> Vec<String> {
    let obj = json(&k.ok(&["get", what, "-o", "json", "--show-managed-fields"]));
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["operation"] == "Apply")
        .filter_map(|m| m["manager"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn install_upgrade_and_roll_back_a_local_chart() {
    let k = KeelsonUp::start(&[]);
    let helm = Helm::new(&k);
    let chart = fixture("chart-web");
    let chart = chart.to_str().expect("a UTF-8 path");

    let out = helm.ok(&["install", "web", chart]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert_eq!(
        read_back(&k),
        released("first-secret", 8080),
        "after install"
    );

    let out = helm.ok(&[
        "upgrade",
        "web",
        chart,
        "--set",
        "password=second-secret",
        "--set",
        "port=9090",
    ]);
    assert!(
        out.contains("STATUS: deployed") && out.contains("REVISION: 2"),
        "{out}"
    );
    assert_eq!(
        read_back(&k),
        released("second-secret", 9090),
        "after upgrade"
    );

    let out = helm.ok(&["rollback", "web", "1"]);
    assert!(out.contains("Rollback was a success"), "{out}");
    assert_eq!(
        read_back(&k),
        released("first-secret", 8080),
        "after rollback"
    );

    for what in [
        "secret/web-credentials",
        "service/web-web",
        "configmap/web-settings",
    ] {
        assert_eq!(
            appliers(&k, what),
            ["helm"],
            "{what} was written (and rolled back) by helm's server-side apply"
        );
    }

    let history = json(&helm.ok(&["history", "web", "-o", "json"]));
    let revisions: Vec<(i64, &str)> = history
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        revisions,
        [(1, "superseded"), (2, "superseded"), (3, "deployed")],
        "{history}"
    );

    let out = helm.ok(&["uninstall", "web"]);
    assert!(out.contains("uninstalled"), "{out}");
    for what in [
        "secret/web-credentials",
        "service/web-web",
        "configmap/web-settings",
    ] {
        let err = k.fails(&["get", what]);
        assert!(err.contains("NotFound"), "{what} after uninstall: {err}");
    }
}

#[test]
fn a_chart_that_ships_a_crd_installs_upgrades_and_uninstalls_its_objects() {
    let k = KeelsonUp::start(&[]);
    let helm = Helm::new(&k);
    let chart = fixture("chart-crontab");
    let chart = chart.to_str().expect("a UTF-8 path");
    let crontab = |k: &KeelsonUp| json(&k.ok(&["get", "crontab", "nightly-crontab", "-o", "json"]));

    let out = helm.ok(&["install", "nightly", chart]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    let installed = crontab(&k);
    assert_eq!(installed["spec"]["cronSpec"], "*/5 * * * *");
    assert_eq!(installed["spec"]["replicas"], 1);
    let table = k.ok(&["get", "ct"]);
    assert!(
        table.contains("nightly-crontab   */5 * * * *   1"),
        "{table}"
    );

    let out = helm.ok(&[
        "upgrade",
        "nightly",
        chart,
        "--set",
        "replicas=3",
        "--set",
        "schedule=0 * * * *",
    ]);
    assert!(out.contains("REVISION: 2"), "{out}");
    let upgraded = crontab(&k);
    assert_eq!(upgraded["spec"]["cronSpec"], "0 * * * *");
    assert_eq!(upgraded["spec"]["replicas"], 3);

    // The schema holds for what a chart renders too.
    let refused = helm.run(&["upgrade", "nightly", chart, "--set", "replicas=11"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("should be less than or equal to 10"), "{err}");

    helm.ok(&["uninstall", "nightly"]);
    let gone = k.kubectl(&["get", "crontab", "nightly-crontab"]);
    assert!(!gone.status.success(), "the CronTab outlived its release");
    // Helm keeps the CRDs of crds/ on uninstall, by design: the type stays served.
    assert!(k
        .ok(&["get", "crd", "crontabs.stable.example.com"])
        .contains("crontabs"));
}
