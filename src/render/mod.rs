//! Renderers: the same Plan value as text for people, JSON for machines,
//! Markdown for pull-request comments.

pub mod audit;
pub mod markdown;
pub mod pr;
pub mod text;

use crate::plan::Plan;

pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan always serializes");
    s.push('\n');
    s
}
