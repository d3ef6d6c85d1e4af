//! `cargo xtask bench [--quick] [--only A,B,…] [--criterion]`: the performance table — our
//! crates against the PyTorch/FrEIA peer on configurations A–H, both measured in the same run,
//! with GEMM throughput, the fraction of the machine's GEMM peak and peak memory — or, with
//! `--criterion`, the workspace's criterion benches.
//!
//! Our side of every row runs in a child process of this binary (`--child <id>`, hidden) with
//! `RAYON_NUM_THREADS=2`, so its thread count and peak RSS are its own; the peer's scripts run
//! with `python3` when `import torch, FrEIA` works, and the row says "peer not installed"
//! otherwise. Times are medians of repeated rounds, each after a discarded warm-up round.

mod cases;
mod child;
mod criterion_runner;
mod ours;
mod peer;
mod table;

use crate::figures::Result;
use cases::{Case, Level, cases};
use child::ChildReport;
use ours::median;
use std::path::{Path, PathBuf};
use table::{PeerCell, Row};

/// The options of `cargo xtask bench`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// Rows (table) or sections (`--criterion`) to run; all when empty.
    pub only: Vec<String>,
    /// Print the rows or sections and exit.
    pub list: bool,
    /// Fewer repetitions and steps (about two minutes with the peer).
    pub quick: bool,
    /// Run the criterion benches instead of the table.
    pub criterion: bool,
    /// Tiny sizes, one repetition, no peer: a smoke test of the table code.
    pub tiny: bool,
    /// Measure only this row (or `gemm`) and print a report line: the child-process mode.
    pub child: Option<String>,
}

impl Options {
    fn level(&self) -> Level {
        if self.tiny {
            Level::Tiny
        } else if self.quick {
            Level::Quick
        } else {
            Level::Full
        }
    }
}

/// Runs the task described by `options` in the workspace at `root`.
pub fn run(root: &Path, options: &Options) -> Result<()> {
    if options.criterion {
        return criterion_runner::run(root, &options.only, options.list);
    }
    let level = options.level();
    if let Some(id) = &options.child {
        return child::run_child(id, level);
    }
    let chosen = select(level, &options.only)?;
    if options.list {
        for c in &chosen {
            println!("{:<9} {}", c.id, c.what);
        }
        return Ok(());
    }
    // Without a path to this binary (rare), our side runs here and reports no memory.
    let runner = std::env::current_exe().map_or(Runner::InProcess, Runner::Children);
    let peer = if level == Level::Tiny {
        PeerMode::Skip
    } else if peer::installed() {
        PeerMode::Run {
            assets: root.join("xtask").join("assets"),
        }
    } else {
        PeerMode::NotInstalled
    };
    let report = table_report(level, &chosen, &runner, &peer);
    print!("{report}");
    Ok(())
}

/// The rows `only` names (ids, or `F` for both F rows), in table order; all when empty.
fn select(level: Level, only: &[String]) -> Result<Vec<Case>> {
    let all = cases(level);
    if let Some(unknown) = only.iter().find(|o| !all.iter().any(|c| c.selected_by(o))) {
        let known: Vec<&str> = all.iter().map(|c| c.id).collect();
        return Err(format!("no bench row `{unknown}`; known: {}", known.join(", ")).into());
    }
    Ok(all
        .into_iter()
        .filter(|c| only.is_empty() || only.iter().any(|o| c.selected_by(o)))
        .collect())
}

/// Where our side runs.
enum Runner {
    /// In child processes of this binary (the task).
    Children(PathBuf),
    /// In this process, without memory figures (tests, where the binary is the test harness,
    /// and systems that cannot name the running binary).
    InProcess,
}

impl Runner {
    /// Measures row `id` (or `gemm`) at `level`.
    fn measure(&self, id: &str, level: Level) -> Result<ChildReport> {
        match self {
            Runner::Children(exe) => child::spawn(exe, id, level),
            Runner::InProcess => {
                let measured = if id == child::GEMM {
                    let size = level.gemm_size();
                    let gflops = ours::gemm_peak(size, level.reps());
                    ours::Measured {
                        ms: vec![2.0 * (size as f64).powi(3) / gflops / 1e6],
                        flops: 2.0 * (size as f64).powi(3),
                        note: String::new(),
                    }
                } else {
                    let case = cases(level)
                        .into_iter()
                        .find(|c| c.id == id)
                        .ok_or_else(|| format!("no bench row `{id}`"))?;
                    ours::measure(&case.work, level.reps(), case.units_per_rep)?
                };
                Ok(ChildReport {
                    measured,
                    vm_hwm_kib: None,
                })
            }
        }
    }
}

/// Whether and how the peer runs.
enum PeerMode {
    /// Run the scripts.
    Run {
        /// `xtask/assets`, where the peer scripts live.
        assets: PathBuf,
    },
    /// Python, torch or FrEIA is missing.
    NotInstalled,
    /// Not run (tiny mode).
    Skip,
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn mib(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

/// Measures the chosen rows (ours, then the peer's, row by row so both see similar load) and
/// returns the header, the table and the notes as text. Progress goes to stderr.
fn table_report(level: Level, chosen: &[Case], runner: &Runner, peer_mode: &PeerMode) -> String {
    let load_before = load_average();
    eprintln!("bench: measuring the GEMM peak …");
    let peak = runner
        .measure(child::GEMM, level)
        .ok()
        .and_then(|r| median(&r.measured.ms).map(|ms| r.measured.flops / ms / 1e6));
    let mut rows = Vec::with_capacity(chosen.len());
    for case in chosen {
        eprintln!("bench: {} (ours) …", case.id);
        let mut notes = Vec::new();
        let ours = runner.measure(case.id, level);
        let (ours_ms, gflops, ours_rss) = match &ours {
            Ok(r) => {
                let ms = median(&r.measured.ms);
                let mut note = format!(
                    "ours: median of {} round(s) × {} {}{} after a warm-up round",
                    r.measured.ms.len(),
                    case.units_per_rep,
                    case.unit,
                    if case.units_per_rep == 1 { "" } else { "s" }
                );
                if !r.measured.note.is_empty() {
                    note.push_str(&format!("; {}", r.measured.note));
                }
                notes.push(note);
                (
                    ms,
                    ms.map(|ms| r.measured.flops / ms / 1e6),
                    mib(r.vm_hwm_kib),
                )
            }
            Err(e) => {
                notes.push(format!("ours failed: {e}"));
                (None, None, None)
            }
        };
        let (peer, peer_rss) = match peer_mode {
            PeerMode::Skip => (PeerCell::Skipped, None),
            PeerMode::NotInstalled => (PeerCell::NotInstalled, None),
            PeerMode::Run { assets } => match peer::plan(case, level, assets) {
                None => (PeerCell::NoPeer, None),
                Some(plan) => {
                    eprintln!("bench: {} (peer) …", case.id);
                    match peer::run(&plan) {
                        Ok(r) => {
                            notes.push(format!(
                                "peer: median of {} timing(s) ({})",
                                r.ms.len(),
                                plan.note
                            ));
                            let cell =
                                median(&r.ms).map_or(PeerCell::Failed, |ms| PeerCell::Measured {
                                    ms,
                                    runs: r.ms.len(),
                                });
                            (cell, mib(r.vm_hwm_kib))
                        }
                        Err(e) => {
                            notes.push(format!("peer failed: {e}"));
                            (PeerCell::Failed, None)
                        }
                    }
                }
            },
        };
        rows.push(Row {
            id: case.id.to_string(),
            what: case.what.clone(),
            unit: case.unit.to_string(),
            ours_ms,
            peer,
            gflops,
            peak_fraction: gflops.zip(peak).map(|(g, p)| g / p),
            ours_rss_mib: ours_rss,
            peer_rss_mib: peer_rss,
            notes,
        });
    }
    let mut out = format!(
        "inn bench ({} level), f32, {} threads (RAYON_NUM_THREADS / torch.set_num_threads), \
         GEMM peak {} GFLOP/s ({n}×{n}×{n} f32 nalgebra products, split over the threads or one per thread, best of {}); \
         load average {load_before} before, {} after\n",
        level.name(),
        child::THREADS,
        peak.map_or_else(|| "unmeasured".to_string(), |p| format!("{p:.1}")),
        level.reps() + 1,
        load_average(),
        n = level.gemm_size(),
    );
    out.push_str(&table::render(&rows));
    out.push_str(
        "ratio = peer ms / ours ms (> 1: we are faster). GFLOP/s counts GEMM flops only \
         (2 per multiply-add; training step = 3 × forward; formulas in xtask/src/bench/cases.rs); \
         RSS = peak resident set (VmHWM) of the process that ran the row.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table in tiny mode, in this process, without the peer: every row is measured
    /// and printed.
    #[test]
    fn tiny_table_prints_every_row() {
        let chosen = select(Level::Tiny, &[]).unwrap();
        let text = table_report(Level::Tiny, &chosen, &Runner::InProcess, &PeerMode::Skip);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("GEMM peak") && !lines[0].contains("unmeasured"));
        for (k, case) in chosen.iter().enumerate() {
            let line = lines[3 + k];
            assert!(line.starts_with(case.id), "{text}");
            assert!(line.contains("skipped"), "{text}");
            assert!(!text.contains("failed"), "{text}");
        }
        assert_eq!(chosen.len(), 9);
        assert!(
            text.contains("F.invert: ours: median of 1 round(s)"),
            "{text}"
        );
        assert!(text.contains("iterations, error bound"), "{text}");
    }

    #[test]
    fn only_selects_rows_and_rejects_unknown_ones() {
        let ids = |only: &[&str]| -> Vec<&str> {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select(Level::Quick, &only)
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect()
        };
        assert_eq!(ids(&["B", "F"]), ["B", "F.sample", "F.invert"]);
        assert_eq!(ids(&[]).len(), 9);
        assert_eq!(ids(&["g", "H"]), ["G", "H"]);
        assert!(select(Level::Quick, &["Z".to_string()]).is_err());
    }
}
