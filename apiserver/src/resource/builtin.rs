//! The descriptors of the built-in resources, made once from codegen's route table.

use std::sync::LazyLock;

use super::{Decoding, Descriptor, Printer};
use crate::conversion::Conversion;

/// Every built-in resource, in the route table's (discovery's) order.
pub fn builtin() -> &'static [Descriptor] {
    static DESCRIPTORS: LazyLock<Vec<Descriptor>> = LazyLock::new(|| {
        let catalogue = keelson_apis::catalogue::builtin();
        crate::generated::routes::ROUTES
            .iter()
            .filter_map(|route| {
                let resource = catalogue.get(route.catalogue_index)?;
                Some(Descriptor {
                    facts: resource.facts,
                    decoding: Decoding::Typed(resource.kind),
                    storage_prefix: route.storage_prefix,
                    strategy: crate::strategy::of(route.group, route.plural),
                    conversion: Conversion::of(route.group, route.version, route.plural),
                    printer: Printer::Builtin(crate::table::printer_of(route.group, route.plural)),
                    definition: (resource.kind.definition)(),
                    schema: None,
                })
            })
            .collect()
    });
    &DESCRIPTORS
}

/// A built-in resource by group, version and plural.
pub fn find_builtin(group: &str, version: &str, plural: &str) -> Option<&'static Descriptor> {
    builtin()
        .iter()
        .find(|d| d.group() == group && d.version() == version && d.plural() == plural)
}
