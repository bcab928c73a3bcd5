//! Printers of identities and their grants: service accounts and (cluster) role bindings.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cells::*;
use super::{col, wide, Column, Printer, AGE, NAME};

// The column tables are exempt from rustfmt so each column stays on one line.

#[rustfmt::skip]
static SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    col("Secrets", "string", "Number of secrets listed on the service account."),
    AGE,
];

#[rustfmt::skip]
static ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    col("Role", "string", "Role the subjects are bound to."),
    AGE,
    wide("Users", "string", "Users bound to the role."),
    wide("Groups", "string", "Groups bound to the role."),
    wide("ServiceAccounts", "string", "Service accounts bound to the role."),
];

/// `v1/serviceaccounts`.
pub struct ServiceAccounts;

impl Printer for ServiceAccounts {
    fn columns(&self) -> &'static [Column] {
        SERVICE_ACCOUNT_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(arr(obj, &["secrets"]).len()),
            age(obj, now),
        ]
    }
}

/// `rbac.authorization.k8s.io/v1` role bindings and cluster role bindings.
pub struct RoleBindings;

impl Printer for RoleBindings {
    fn columns(&self) -> &'static [Column] {
        ROLE_BINDING_COLUMNS
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        role_binding_cells(obj, now)
    }
}

fn role_binding_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        st(o, &["roleRef", "kind"]),
        st(o, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in arr(o, &["subjects"]) {
        let n = st(s, &["name"]);
        match st(s, &["kind"]) {
            "User" => users.push(n.to_string()),
            "Group" => groups.push(n.to_string()),
            "ServiceAccount" => sas.push(format!("{}/{n}", st(s, &["namespace"]))),
            _ => {}
        }
    }
    vec![
        name(o),
        json!(role),
        age(o, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::table::testing::*;

    #[test]
    fn role_binding_row() {
        let rb = json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
            {"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]});
        let c = cells("rbac.authorization.k8s.io", "rolebindings", &rb, now());
        assert_eq!(c[1], json!("ClusterRole/view"));
        assert_eq!(c[3..6], [json!("alice"), json!(""), json!("ns/sa")]);
    }
}
