//! `root-ca-certificate-publisher-controller`: every active namespace has the ConfigMap
//! `kube-root-ca.crt` holding the API server's CA, which pods' projected service-account
//! volumes mount to verify the API server. A deleted or changed copy is restored.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::Api;

use crate::{Context, Error, Reconciler};

pub const NAME: &str = "kube-root-ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub struct RootCaPublisher;

/// What a namespace's `kube-root-ca.crt` needs.
#[derive(Debug, PartialEq)]
enum Publication {
    /// It holds the CA bundle already.
    Current,
    /// It exists with other data: written back with the bundle (its other metadata kept).
    Replace(ConfigMap),
    /// It is missing.
    Create(ConfigMap),
}

/// The publication of CA bundle `ca` over the namespace's `existing` ConfigMap.
fn publication(existing: Option<ConfigMap>, ca: &str) -> Publication {
    let data = BTreeMap::from([("ca.crt".to_string(), ca.to_string())]);
    let annotations = BTreeMap::from([(
        "kubernetes.io/description".to_string(),
        DESCRIPTION.to_string(),
    )]);
    match existing {
        Some(existing) if existing.data.as_ref() == Some(&data) => Publication::Current,
        Some(mut existing) => {
            existing.data = Some(data);
            existing
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .extend(annotations);
            Publication::Replace(existing)
        }
        None => Publication::Create(ConfigMap {
            metadata: ObjectMeta {
                name: Some(NAME.into()),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        }),
    }
}

impl Reconciler for RootCaPublisher {
    type Object = Namespace;
    const NAME: &'static str = "root-ca-certificate-publisher-controller";

    fn watches(&self, c: Controller<Namespace>, ctx: &Context) -> Controller<Namespace> {
        c.watches_shared_stream(ctx.informers.get::<ConfigMap>().subscribe(), |cm| {
            (cm.metadata.name.as_deref() == Some(NAME))
                .then(|| cm.metadata.namespace.as_deref().map(ObjectRef::new))
                .flatten()
        })
    }

    async fn reconcile(&self, ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
        let (Some(namespace), Some(ca)) = (ns.metadata.name.as_deref(), ctx.root_ca.as_deref())
        else {
            return Ok(Action::await_change());
        };
        if ns.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
        match publication(api.get_opt(NAME).await?, ca) {
            Publication::Current => Ok(Action::await_change()),
            Publication::Replace(cm) => {
                api.replace(NAME, &PostParams::default(), &cm).await?;
                Ok(Action::await_change())
            }
            Publication::Create(cm) => match api.create(&PostParams::default(), &cm).await {
                Ok(_) => Ok(Action::await_change()),
                // Already there, or the namespace started terminating meanwhile.
                Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {
                    Ok(Action::await_change())
                }
                Err(e) => Err(e.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn config_map(fields: serde_json::Value) -> ConfigMap {
        serde_json::from_value(fields).unwrap()
    }

    #[test]
    fn a_missing_config_map_is_created_with_the_bundle_and_its_description() {
        let Publication::Create(cm) = publication(None, CA) else {
            panic!("not created");
        };
        assert_eq!(cm.metadata.name.as_deref(), Some(NAME));
        assert_eq!(cm.data.unwrap()["ca.crt"], CA);
        assert_eq!(
            cm.metadata.annotations.unwrap()["kubernetes.io/description"],
            DESCRIPTION
        );
    }

    #[test]
    fn a_config_map_holding_the_bundle_is_left_alone() {
        let existing = config_map(json!({"metadata": {"name": NAME}, "data": {"ca.crt": CA}}));
        assert_eq!(publication(Some(existing), CA), Publication::Current);
    }

    #[test]
    fn a_changed_config_map_gets_the_bundle_back_and_keeps_its_other_metadata() {
        let existing = config_map(json!({
            "metadata": {"name": NAME, "resourceVersion": "7", "labels": {"team": "a"},
                "annotations": {"note": "mine"}},
            "data": {"ca.crt": "tampered", "extra": "x"},
        }));
        let Publication::Replace(cm) = publication(Some(existing), CA) else {
            panic!("not replaced");
        };
        assert_eq!(
            cm.data,
            Some(BTreeMap::from([("ca.crt".to_string(), CA.to_string())]))
        );
        assert_eq!(cm.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(cm.metadata.labels.unwrap()["team"], "a");
        let annotations = cm.metadata.annotations.unwrap();
        assert_eq!(annotations["note"], "mine");
        assert_eq!(annotations["kubernetes.io/description"], DESCRIPTION);
    }
}
