//! The worst error seen per (block, law), collected over a sweep and printed as a table.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Largest measured error per block name and law name.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    worst: BTreeMap<(String, &'static str), (f64, usize)>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one measurement of `law` on `block`.
    pub fn record(&mut self, block: &str, law: &'static str, error: f64) {
        let slot = self
            .worst
            .entry((block.to_string(), law))
            .or_insert((0.0, 0));
        slot.0 = slot.0.max(error);
        slot.1 += 1;
    }

    /// The worst error recorded for `law` on `block`, if any.
    pub fn worst(&self, block: &str, law: &'static str) -> Option<f64> {
        self.worst.get(&(block.to_string(), law)).map(|w| w.0)
    }

    /// A table: one line per (block, law) with the worst error and the number of cases.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<14} {:<22} {:>12} {:>6}",
            "block", "law", "worst", "cases"
        );
        for ((block, law), (err, n)) in &self.worst {
            let _ = writeln!(out, "{block:<14} {law:<22} {err:>12.3e} {n:>6}");
        }
        out
    }
}
