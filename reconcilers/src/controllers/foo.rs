//! `foo`: the sample controller, Keelson's example operator. A `Foo`
//! (`samplecontroller.k8s.io/v1alpha1`) owns a Deployment named `spec.deploymentName` with
//! `spec.replicas` replicas, and reports the Deployment's available replicas in
//! `status.availableReplicas`. Deleting the Foo deletes the Deployment through its owner
//! reference (the garbage collector). Scaffolded by `cargo run --bin codegen -- new`.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use keelson_apis::crds::foo::{Foo, FooStatus};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};

use crate::{Context, Error, Reconciler};

pub struct Foos;

/// What a Foo's Deployment needs.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// The Foo names no Deployment yet (or has no namespace): nothing to do.
    Nothing,
    Create(Box<Deployment>),
    /// A Deployment of that name exists and is not this Foo's.
    NotOurs(String),
    /// The Deployment runs another number of replicas.
    Scale(i32),
    /// The Deployment is as wanted; the Foo's status reports its available replicas.
    Report(i32),
}

/// The Deployment a Foo asks for, owned by it.
pub fn desired_deployment(sample: &Foo) -> Option<Deployment> {
    let owner = sample.controller_owner_ref(&())?;
    let labels = BTreeMap::from([
        ("app".to_string(), "nginx".to_string()),
        ("controller".to_string(), sample.name_any()),
    ]);
    Some(Deployment {
        metadata: ObjectMeta {
            name: Some(sample.spec.deployment_name.clone()),
            namespace: sample.namespace(),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(sample.spec.replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "nginx".into(),
                        image: Some("nginx:latest".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// What to do about a Foo, given the Deployment of its name if there is one.
pub fn next_step(sample: &Foo, existing: Option<&Deployment>) -> Step {
    if sample.spec.deployment_name.is_empty() || sample.namespace().is_none() {
        return Step::Nothing;
    }
    let Some(deployment) = existing else {
        return match desired_deployment(sample) {
            Some(d) => Step::Create(Box::new(d)),
            None => Step::Nothing,
        };
    };
    let ours = deployment
        .owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == sample.meta().uid.as_ref());
    if !ours {
        return Step::NotOurs(format!(
            "Resource {:?} already exists and is not managed by Foo",
            sample.spec.deployment_name
        ));
    }
    let replicas = deployment.spec.as_ref().and_then(|s| s.replicas);
    if replicas != Some(sample.spec.replicas) {
        return Step::Scale(sample.spec.replicas);
    }
    Step::Report(
        deployment
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
    )
}

impl Reconciler for Foos {
    type Object = Foo;
    const NAME: &'static str = "foo-controller";

    fn watches(&self, controller: Controller<Foo>, ctx: &Context) -> Controller<Foo> {
        controller.owns_shared_stream(ctx.informers.get::<Deployment>().subscribe())
    }

    async fn reconcile(&self, sample: Arc<Foo>, ctx: Arc<Context>) -> Result<Action, Error> {
        let Some(namespace) = sample.namespace() else {
            return Ok(Action::await_change());
        };
        if sample.meta().deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
        let name = sample.spec.deployment_name.clone();
        let existing = ctx
            .informers
            .get::<Deployment>()
            .store()
            .find(|d| d.namespace().as_deref() == Some(&namespace) && d.name_any() == name);
        match next_step(&sample, existing.as_deref()) {
            Step::Nothing => Ok(Action::await_change()),
            Step::Create(deployment) => {
                match deployments
                    .create(&PostParams::default(), &deployment)
                    .await
                {
                    Ok(_) => Ok(Action::await_change()),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(Action::await_change()),
                    Err(e) => Err(e.into()),
                }
            }
            Step::NotOurs(message) => {
                let recorder = ctx.recorder(Self::NAME);
                super::publish(
                    &recorder,
                    &sample.object_ref(&()),
                    EventType::Warning,
                    "ErrResourceExists",
                    message.clone(),
                )
                .await;
                Err(Error::Other(message))
            }
            Step::Scale(replicas) => {
                let patch = serde_json::json!({"spec": {"replicas": replicas}});
                deployments
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                Ok(Action::await_change())
            }
            Step::Report(available) => {
                let current = sample.status.as_ref().map(|s| s.available_replicas);
                if current != Some(available) {
                    let foos: Api<Foo> = Api::namespaced(ctx.client.clone(), &namespace);
                    let status = FooStatus {
                        available_replicas: available,
                    };
                    let patch = serde_json::json!({"status": status});
                    foos.patch_status(
                        &sample.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
                    let recorder = ctx.recorder(Self::NAME);
                    super::publish(
                        &recorder,
                        &sample.object_ref(&()),
                        EventType::Normal,
                        "Synced",
                        "Foo synced successfully".into(),
                    )
                    .await;
                }
                Ok(Action::await_change())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentStatus;
    use keelson_apis::crds::foo::FooSpec;

    fn foo(replicas: i32) -> Foo {
        let mut foo = Foo::new(
            "example-foo",
            FooSpec {
                deployment_name: "example-foo".into(),
                replicas,
            },
        );
        foo.metadata.namespace = Some("default".into());
        foo.metadata.uid = Some("uid-1".into());
        foo
    }

    fn owned(foo: &Foo, replicas: i32, available: i32) -> Deployment {
        let mut d = desired_deployment(foo).unwrap();
        d.spec.as_mut().unwrap().replicas = Some(replicas);
        d.status = Some(DeploymentStatus {
            available_replicas: Some(available),
            ..Default::default()
        });
        d
    }

    #[test]
    fn a_missing_deployment_is_created_owned_by_the_foo() {
        let Step::Create(d) = next_step(&foo(3), None) else {
            panic!("expected a create");
        };
        assert_eq!(d.metadata.name.as_deref(), Some("example-foo"));
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
        let owner = &d.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Foo", "uid-1"));
        assert_eq!(owner.controller, Some(true));
    }

    #[test]
    fn a_deployment_of_another_owner_is_not_touched() {
        let mut other = owned(&foo(3), 3, 3);
        other.metadata.owner_references = None;
        assert!(matches!(next_step(&foo(3), Some(&other)), Step::NotOurs(_)));
    }

    #[test]
    fn a_changed_replica_count_scales_the_deployment() {
        let f = foo(5);
        assert_eq!(next_step(&f, Some(&owned(&f, 3, 3))), Step::Scale(5));
    }

    #[test]
    fn a_deployment_as_wanted_reports_its_available_replicas() {
        let f = foo(3);
        assert_eq!(next_step(&f, Some(&owned(&f, 3, 2))), Step::Report(2));
    }
}
