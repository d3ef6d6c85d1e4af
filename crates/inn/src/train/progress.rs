//! The progress bar of long trainings (indicatif), shown only on an interactive terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar with the running loss; hidden unless enabled and stderr is a terminal
/// (so logs, CI and tests stay clean).
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub(crate) fn new(steps: usize, enabled: bool) -> Self {
        let bar = ProgressBar::new(steps as u64);
        if enabled && std::io::stderr().is_terminal() {
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self { bar }
    }

    pub(crate) fn tick(&self, step: usize, loss: f64, val: Option<f64>) {
        // Redrawing is rate-limited by indicatif; the message is cheap to set.
        if step.is_multiple_of(10) {
            match val {
                Some(v) => self.bar.set_message(format!("loss {loss:.4} val {v:.4}")),
                None => self.bar.set_message(format!("loss {loss:.4}")),
            }
        }
        self.bar.set_position(step as u64 + 1);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
