//! Renderers: the same Plan value as text for people, JSON for machines,
//! Markdown for pull-request comments.

pub mod audit;
pub mod markdown;
pub mod pr;
pub mod text;

use crate::plan::Plan;

/// What a coloured piece of text means; the terminal style follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Something is added (a grant).
    Add,
    /// Something changes in place (an update).
    Change,
    /// Something is removed (a revoke), or an error.
    Remove,
    /// Something moves (an archive move).
    Move,
    /// A heading.
    Strong,
}

impl Tone {
    pub fn style(self) -> anstyle::Style {
        use anstyle::{AnsiColor, Style};
        match self {
            Tone::Add => Style::new().fg_color(Some(AnsiColor::Green.into())),
            Tone::Change => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
            Tone::Remove => Style::new().fg_color(Some(AnsiColor::Red.into())),
            Tone::Move => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
            Tone::Strong => Style::new().bold(),
        }
    }
}

pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("a plan always serializes");
    s.push('\n');
    s
}
