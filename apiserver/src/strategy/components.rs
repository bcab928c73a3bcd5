//! ComponentStatuses: computed on each read from what this server knows of the store and
//! of the components running with it, never stored; deprecated upstream since v1.19.

use serde_json::{json, Value};

use super::Strategy;
use crate::registry::Registry;

pub struct ComponentStatuses;
impl Strategy for ComponentStatuses {
    fn computed(&self, registry: &Registry) -> Option<Vec<Value>> {
        let store = registry.store().status();
        let mut items = vec![component(
            "etcd-0",
            store.leader.is_some(),
            if store.leader.is_some() {
                "ok"
            } else {
                "the store has no leader"
            },
        )];
        for name in ["controller-manager", "scheduler"] {
            let item = match registry.component_health(name) {
                Some(Ok(())) => component(name, true, "ok"),
                Some(Err(why)) => component(name, false, &why),
                None => component(name, false, &format!("no {name} runs with this server")),
            };
            items.push(item);
        }
        Some(items)
    }
    fn deprecation(&self) -> Option<&'static str> {
        Some("v1 ComponentStatus is deprecated in v1.19+")
    }
}

fn component(name: &str, healthy: bool, message: &str) -> Value {
    json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": { "name": name },
        "conditions": [{
            "type": "Healthy",
            "status": if healthy { "True" } else { "False" },
            "message": message,
        }],
    })
}
