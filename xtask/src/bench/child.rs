//! Our side of a row in its own process: `xtask bench --child <id> [--quick|--tiny]` measures one
//! row (or the GEMM peak, id `gemm`) with `RAYON_NUM_THREADS=2`, and prints one report line
//! with the timings and the process's peak RSS (VmHWM of `/proc/self/status`), so every row's
//! memory is its own and the thread count is set before rayon's pool starts.

use super::cases::{Level, cases};
use super::ours::{Measured, gemm_peak, measure};
use crate::figures::Result;
use std::path::Path;
use std::process::Command;

/// The id of the GEMM-peak measurement.
pub const GEMM: &str = "gemm";

/// Threads for our side and the peer's (`torch.set_num_threads(2)` in the anchors).
pub const THREADS: &str = "2";

/// Peak resident set size of this process in KiB (`VmHWM`), where `/proc` has it.
pub fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// One row measured by a child: the timings and its peak RSS.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildReport {
    /// The timings.
    pub measured: Measured,
    /// Peak RSS of the child, KiB.
    pub vm_hwm_kib: Option<u64>,
}

/// The report line: `bench-child flops=… vm_hwm_kib=… ms=a,b,… note=<rest of line>`.
pub fn format_report(report: &ChildReport) -> String {
    let ms: Vec<String> = report.measured.ms.iter().map(|v| format!("{v}")).collect();
    format!(
        "bench-child flops={} vm_hwm_kib={} ms={} note={}",
        report.measured.flops,
        report
            .vm_hwm_kib
            .map_or_else(|| "?".to_string(), |v| v.to_string()),
        ms.join(","),
        report.measured.note.replace('\n', " ")
    )
}

/// Reads the report line back from a child's output.
pub fn parse_report(stdout: &str) -> Option<ChildReport> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("bench-child "))?;
    let (fields, note) = line.split_once("note=").unwrap_or((line, ""));
    let mut flops = None;
    let mut vm_hwm_kib = None;
    let mut ms = None;
    for token in fields.split_whitespace() {
        let (key, value) = token.split_once('=')?;
        match key {
            "flops" => flops = value.parse().ok(),
            "vm_hwm_kib" => vm_hwm_kib = value.parse().ok(),
            "ms" => {
                ms = value
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(str::parse)
                    .collect::<std::result::Result<Vec<f64>, _>>()
                    .ok()
            }
            _ => {}
        }
    }
    Some(ChildReport {
        measured: Measured {
            ms: ms?,
            flops: flops?,
            note: note.trim().to_string(),
        },
        vm_hwm_kib,
    })
}

/// The child's work: measures row `id` (or the GEMM peak) at `level` and prints the report.
pub fn run_child(id: &str, level: Level) -> Result<()> {
    let measured = if id == GEMM {
        let size = level.gemm_size();
        let gflops = gemm_peak(size, level.reps());
        Measured {
            ms: vec![2.0 * (size as f64).powi(3) / gflops / 1e6],
            flops: 2.0 * (size as f64).powi(3),
            note: format!("{size}³ f32 product, best of {}", level.reps() + 1),
        }
    } else {
        let case = cases(level)
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| format!("no bench row `{id}`"))?;
        measure(&case.work, level.reps(), case.units_per_rep)?
    };
    println!(
        "{}",
        format_report(&ChildReport {
            measured,
            vm_hwm_kib: vm_hwm_kib(),
        })
    );
    Ok(())
}

/// Runs `exe bench --child <id> [--quick|--tiny]` with our thread settings and reads its report.
pub fn spawn(exe: &Path, id: &str, level: Level) -> Result<ChildReport> {
    let flag = match level {
        Level::Full => None,
        Level::Quick => Some("--quick"),
        Level::Tiny => Some("--tiny"),
    };
    let out = Command::new(exe)
        .args(["bench", "--child", id])
        .args(flag)
        .env("RAYON_NUM_THREADS", THREADS)
        .output()
        .map_err(|e| format!("could not start {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("row {id} failed ({}): {}", out.status, stderr.trim()).into());
    }
    parse_report(&stdout).ok_or_else(|| format!("row {id}: no report in `{stdout}`").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips() {
        let report = ChildReport {
            measured: Measured {
                ms: vec![20.5, 19.25, 21.0],
                flops: 1.6e9,
                note: "12 iterations, error bound 3.2e-6".into(),
            },
            vm_hwm_kib: Some(51_200),
        };
        let line = format!("noise before\n{}\n", format_report(&report));
        assert_eq!(parse_report(&line), Some(report.clone()));
        let no_memory = ChildReport {
            vm_hwm_kib: None,
            measured: Measured {
                note: String::new(),
                ..report.measured
            },
        };
        assert_eq!(
            parse_report(&format_report(&no_memory)),
            Some(no_memory.clone())
        );
        assert_eq!(parse_report("bench-child flops=1 note=x"), None);
        assert_eq!(parse_report("nothing here"), None);
    }

    #[test]
    fn this_process_has_a_peak_rss_on_linux() {
        if Path::new("/proc/self/status").exists() {
            assert!(vm_hwm_kib().is_some_and(|k| k > 0));
        }
    }
}
