//! [`Objects`] read from the process's shared informers (namespaces, Services and the
//! workload kinds that define default spreading, and the claims, volumes and classes of
//! volume binding, and preemption's PodDisruptionBudgets).

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::{ObjectRef, Store};

use super::framework::Objects;
use super::labels::Labels;
use crate::Context;

/// The informers' caches.
pub struct InformerObjects {
    pub namespaces: Store<Namespace>,
    pub services: Store<Service>,
    pub replication_controllers: Store<ReplicationController>,
    pub replica_sets: Store<ReplicaSet>,
    pub stateful_sets: Store<StatefulSet>,
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub storage_classes: Store<StorageClass>,
    pub budgets: Store<PodDisruptionBudget>,
}

impl InformerObjects {
    pub fn new(ctx: &Context) -> InformerObjects {
        InformerObjects {
            namespaces: ctx.informers.get::<Namespace>().store(),
            services: ctx.informers.get::<Service>().store(),
            replication_controllers: ctx.informers.get::<ReplicationController>().store(),
            replica_sets: ctx.informers.get::<ReplicaSet>().store(),
            stateful_sets: ctx.informers.get::<StatefulSet>().store(),
            claims: ctx.informers.get::<PersistentVolumeClaim>().store(),
            volumes: ctx.informers.get::<PersistentVolume>().store(),
            storage_classes: ctx.informers.get::<StorageClass>().store(),
            budgets: ctx.informers.get::<PodDisruptionBudget>().store(),
        }
    }
}

impl Objects for InformerObjects {
    fn namespace_labels(&self, namespace: &str) -> Option<Labels> {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|ns| ns.metadata.labels.clone())
    }

    fn services(&self, namespace: &str) -> Vec<Arc<Service>> {
        self.services
            .state()
            .into_iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
            .collect()
    }

    fn replication_controller(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<ReplicationController>> {
        self.replication_controllers
            .get(&ObjectRef::new(name).within(namespace))
    }

    fn replica_set(&self, namespace: &str, name: &str) -> Option<Arc<ReplicaSet>> {
        self.replica_sets
            .get(&ObjectRef::new(name).within(namespace))
    }

    fn stateful_set(&self, namespace: &str, name: &str) -> Option<Arc<StatefulSet>> {
        self.stateful_sets
            .get(&ObjectRef::new(name).within(namespace))
    }

    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(namespace))
    }

    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(&ObjectRef::new(name))
    }

    fn volumes(&self) -> Vec<Arc<PersistentVolume>> {
        self.volumes.state()
    }

    fn storage_class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.storage_classes.get(&ObjectRef::new(name))
    }

    fn pod_disruption_budgets(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.budgets.state()
    }
}
