//! A progress bar for long runs on a terminal (indicatif); plain lines on
//! stderr otherwise, so CI logs stay as they are.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::Ui;

/// Lines printed above a bar that counts `total` steps; without a terminal
/// on stderr (or for a short run), just the lines.
pub struct Bar<'a> {
    ui: &'a Ui,
    bar: Option<ProgressBar>,
}

/// Fewer steps than this finish before a bar is worth drawing.
const WORTH_A_BAR: u64 = 20;

impl<'a> Bar<'a> {
    pub fn new(ui: &'a Ui, total: u64, what: &str) -> Bar<'a> {
        let bar = (ui.stderr_is_terminal && total >= WORTH_A_BAR).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta} left)")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_message(what.to_string());
            bar
        });
        Bar { ui, bar }
    }

    /// Prints `line` (above the bar, when there is one).
    pub fn line(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => self.ui.err(&format!("{line}\n")),
        }
    }

    /// One step done.
    pub fn step(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

impl Drop for Bar<'_> {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
