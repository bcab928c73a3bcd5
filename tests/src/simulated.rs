//! Support for the simulated nodes' tests: objects read as JSON through the real kubectl,
//! `kubectl get -w` recordings, and `keelson node` processes.

use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::cluster::KeelsonUp;
use crate::keelson_bin;

/// `kubectl get ARGS -o json`, parsed.
pub fn get_json(up: &KeelsonUp, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend(args);
    all.extend(["-o", "json"]);
    serde_json::from_str(&up.ok(&all)).expect("kubectl printed JSON")
}

/// The pod `name` in `default`, or `None` once it is gone.
pub fn pod(up: &KeelsonUp, name: &str) -> Option<Value> {
    let out = up.kubectl(&["get", "pod", name, "-o", "json", "--ignore-not-found"]);
    assert!(
        out.status.success(),
        "kubectl get pod {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(&text).expect("kubectl printed JSON"))
}

/// The condition `type_` of an object's status.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether the object's condition `type_` has status `True`.
pub fn is_true(obj: &Value, type_: &str) -> bool {
    condition(obj, type_).is_some_and(|c| c["status"] == "True")
}

/// The status of container `name` of a pod (init containers included).
pub fn container<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|list| pod["status"][list].as_array())
        .flatten()
        .find(|c| c["name"] == name)
}

/// Whether `ip` lies in `cidr` (`10.244.1.0/24`).
pub fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (Some((base, bits)), Ok(ip)) = (cidr.split_once('/'), ip.parse::<Ipv4Addr>()) else {
        return false;
    };
    let (Ok(base), Ok(bits)) = (base.parse::<Ipv4Addr>(), bits.parse::<u32>()) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits.min(32))
    };
    u32::from(ip) & mask == u32::from(base) & mask
}

/// `kubectl get ARGS -w -o json --output-watch-events` running in the background.
pub struct Recording {
    child: Child,
    reader: Option<std::thread::JoinHandle<String>>,
}

impl Recording {
    pub fn start(up: &KeelsonUp, args: &[&str]) -> Recording {
        let mut all = vec!["get"];
        all.extend(args);
        all.extend(["-w", "-o", "json", "--output-watch-events"]);
        let mut child = up
            .kubectl_command(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get -w");
        let mut stdout = child.stdout.take().expect("its stdout");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        Recording {
            child,
            reader: Some(reader),
        }
    }

    /// Stops watching; the events seen (`{"type": ..., "object": ...}`).
    pub fn stop(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = self
            .reader
            .take()
            .and_then(|r| r.join().ok())
            .unwrap_or_default();
        serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .filter_map(Result::ok)
            .collect()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `keelson node` process; its output goes to a log file.
pub struct NodeAgent {
    child: Child,
    pub log: PathBuf,
}

impl NodeAgent {
    /// Runs `keelson node --kubeconfig KUBECONFIG ARGS`, logging to `log`.
    pub fn start(kubeconfig: &Path, args: &[&str], log: PathBuf) -> NodeAgent {
        let file = std::fs::File::create(&log).expect("the agent's log file");
        let child = Command::new(keelson_bin())
            .arg("node")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting keelson node");
        NodeAgent { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
