//! `serviceaccount`: every active namespace has a `default` ServiceAccount.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::Api;

use crate::{Context, Error, Reconciler};

pub struct DefaultServiceAccount;

const NAME: &str = "default";

impl Reconciler for DefaultServiceAccount {
    type Object = Namespace;
    const NAME: &'static str = "serviceaccount-controller";

    fn watches(&self, controller: Controller<Namespace>, ctx: &Context) -> Controller<Namespace> {
        // A deleted `default` account is made again.
        let accounts = ctx.informers.get::<ServiceAccount>().subscribe();
        controller.watches_shared_stream(accounts, |sa| {
            (sa.metadata.name.as_deref() == Some(NAME))
                .then(|| sa.metadata.namespace.as_deref().map(ObjectRef::new))
                .flatten()
        })
    }

    async fn reconcile(&self, ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
        let Some(namespace) = ns.metadata.name.as_deref() else {
            return Ok(Action::await_change());
        };
        if ns.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), namespace);
        if api.get_opt(NAME).await?.is_some() {
            return Ok(Action::await_change());
        }
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(NAME.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &account).await {
            Ok(_) => Ok(Action::await_change()),
            // Already there, or the namespace started terminating meanwhile.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {
                Ok(Action::await_change())
            }
            Err(e) => Err(e.into()),
        }
    }
}
