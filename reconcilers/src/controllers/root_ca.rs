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
        let data = BTreeMap::from([("ca.crt".to_string(), ca.to_string())]);
        let annotations = BTreeMap::from([(
            "kubernetes.io/description".to_string(),
            DESCRIPTION.to_string(),
        )]);
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
        match api.get_opt(NAME).await? {
            Some(existing) if existing.data.as_ref() == Some(&data) => Ok(Action::await_change()),
            Some(mut existing) => {
                existing.data = Some(data);
                existing
                    .metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .extend(annotations);
                api.replace(NAME, &PostParams::default(), &existing).await?;
                Ok(Action::await_change())
            }
            None => {
                let cm = ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(NAME.into()),
                        annotations: Some(annotations),
                        ..ObjectMeta::default()
                    },
                    data: Some(data),
                    ..ConfigMap::default()
                };
                match api.create(&PostParams::default(), &cm).await {
                    Ok(_) => Ok(Action::await_change()),
                    // Already there, or the namespace started terminating meanwhile.
                    Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {
                        Ok(Action::await_change())
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}
