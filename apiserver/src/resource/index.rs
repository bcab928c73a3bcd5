//! The resources one server serves: the built-ins and the custom resources of its
//! Established CRDs, which change while it runs.

use std::sync::{Arc, RwLock};

use super::{builtin, Descriptor};

/// The served resources of one server. Custom descriptors are replaced as a whole when a
/// CRD changes; readers take a snapshot.
#[derive(Default)]
pub struct Resources {
    custom: RwLock<Arc<Vec<&'static Descriptor>>>,
}

impl Resources {
    /// A served resource by group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static Descriptor> {
        super::find_builtin(group, version, plural).or_else(|| {
            self.custom()
                .iter()
                .find(|d| d.group() == group && d.version() == version && d.plural() == plural)
                .copied()
        })
    }

    /// The served custom resources, in the order their CRDs were established.
    pub fn custom(&self) -> Arc<Vec<&'static Descriptor>> {
        match self.custom.read() {
            Ok(custom) => custom.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the served custom resources.
    pub fn set_custom(&self, descriptors: Vec<&'static Descriptor>) {
        let mut custom = match self.custom.write() {
            Ok(custom) => custom,
            Err(poisoned) => poisoned.into_inner(),
        };
        *custom = Arc::new(descriptors);
    }

    /// Every served resource: the built-ins, then the custom ones.
    pub fn all(&self) -> Vec<&'static Descriptor> {
        builtin()
            .iter()
            .chain(self.custom().iter().copied())
            .collect()
    }
}
