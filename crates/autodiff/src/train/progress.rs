//! The progress bar of long trainings (indicatif), shown only on an interactive terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::io::IsTerminal;

/// A progress bar with the running loss; hidden unless enabled and stderr is a terminal
/// (so logs, CI and tests stay clean).
pub(crate) struct Progress {
    bar: ProgressBar,
    /// The latest validation loss, shown between validations.
    last_val: Cell<Option<f64>>,
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
        Self {
            bar,
            last_val: Cell::new(None),
        }
    }

    /// Shows step `step`'s training loss, the latest validation loss (`val`, on the steps that
    /// validate) and the best one so far with its step.
    pub(crate) fn tick(
        &self,
        step: usize,
        loss: f64,
        val: Option<f64>,
        best: Option<(usize, f64)>,
    ) {
        // Redrawing is rate-limited by indicatif; the message is cheap to set.
        if let Some(v) = val {
            self.last_val.set(Some(v));
        }
        if step.is_multiple_of(10) || val.is_some() {
            let mut msg = format!("loss {loss:.4}");
            if let Some(v) = self.last_val.get() {
                msg.push_str(&format!("  val {v:.4}"));
            }
            if let Some((s, b)) = best {
                msg.push_str(&format!("  best {b:.4} @ {}", s + 1));
            }
            self.bar.set_message(msg);
        }
        self.bar.set_position(step as u64 + 1);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
