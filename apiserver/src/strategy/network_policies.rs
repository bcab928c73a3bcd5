//! NetworkPolicies: upstream's defaults (the policy types a policy implies, and TCP for a
//! port without a protocol).

use serde_json::{json, Value};

use super::rules::non_empty;
use super::{set, set_default, Strategy};

pub struct NetworkPolicies;
impl Strategy for NetworkPolicies {
    fn default(&self, obj: &mut Value) {
        for direction in ["ingress", "egress"] {
            let rules = obj
                .pointer_mut(&format!("/spec/{direction}"))
                .and_then(Value::as_array_mut);
            for rule in rules.into_iter().flatten() {
                let ports = rule.get_mut("ports").and_then(Value::as_array_mut);
                for port in ports.into_iter().flatten() {
                    set_default(port, &["protocol"], json!("TCP"));
                }
            }
        }
        // `SetDefaults_NetworkPolicy`: Ingress always, Egress when there are egress rules.
        let spec = obj.get("spec");
        if !non_empty(spec, "policyTypes") {
            let mut types = vec![json!("Ingress")];
            if non_empty(spec, "egress") {
                types.push(json!("Egress"));
            }
            set(obj, &["spec", "policyTypes"], Value::Array(types));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_types_and_protocols() {
        let mut obj = json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]}});
        NetworkPolicies.default(&mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}],
                "policyTypes": ["Ingress"]}})
        );
        let mut obj = json!({"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 443}]}]}});
        NetworkPolicies.default(&mut obj);
        assert_eq!(obj["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(obj["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        let mut obj = json!({"spec": {"podSelector": {}, "policyTypes": ["Egress"]}});
        NetworkPolicies.default(&mut obj);
        assert_eq!(obj["spec"]["policyTypes"], json!(["Egress"]));
    }
}
