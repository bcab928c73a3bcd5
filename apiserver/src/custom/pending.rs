//! TEMPORARY stand-ins for `schema` and `cel` while they are written; removed when they land.
#![allow(dead_code)]
use crate::status::Cause;
use serde_json::Value;

pub struct Structural;
impl Structural {
    pub fn parse(_schema: &Value) -> Result<Structural, Vec<String>> {
        Ok(Structural)
    }
    pub fn prune(&self, _obj: &mut Value) -> Vec<String> {
        Vec::new()
    }
    pub fn apply_defaults(&self, _obj: &mut Value) {}
    pub fn validate(&self, _obj: &Value) -> Vec<Cause> {
        Vec::new()
    }
}

pub struct Rules;
impl Rules {
    pub fn compile(_schema: &Value) -> Result<Rules, Vec<Cause>> {
        Ok(Rules)
    }
    pub fn is_empty(&self) -> bool {
        true
    }
    pub fn validate(&self, _new: &Value, _old: Option<&Value>) -> Vec<Cause> {
        Vec::new()
    }
}
