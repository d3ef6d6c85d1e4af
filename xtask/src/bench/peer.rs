//! The peer's side of each row: the PyTorch/FrEIA scripts in `xtask/assets` (`peer_mle.py`,
//! `peer_inn_eight_modes.py`, `peer_mmd.py`, `peer_sampling.py`, `peer_summary_spline.py`; they ship with the repository,
//! so a clone measures the peer once `pip install torch FrEIA` has run), run with the row's
//! configuration in one Python process that repeats the script and then prints its peak RSS.

use super::cases::{Case, Level, Work};
use crate::figures::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `script` `reps` times in one interpreter (so imports are paid once) with `sys.argv`
/// set to the given arguments, then prints the process's peak RSS (VmHWM, KiB), read the same
/// way as our side's.
const WRAPPER: &str = r#"
import runpy, sys
script, reps, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for _ in range(reps):
    sys.argv = [script] + args
    runpy.run_path(script, run_name="__main__")
    sys.stdout.flush()
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")]
print("peer-vm-hwm-kib", hwm[0] if hwm else "?")
"#;

/// Whether the peer can run here: `python3 -c "import torch, FrEIA"` succeeds.
pub fn installed() -> bool {
    Command::new("python3")
        .args(["-c", "import torch, FrEIA"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// How to run the peer of one row.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerPlan {
    /// The script.
    pub script: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Runs of the script (each prints one timing).
    pub reps: usize,
    /// A timing line contains this text …
    pub line_has: &'static str,
    /// … and the time is the number just before this unit.
    pub unit: &'static str,
    /// What the reader should know about the peer's figure.
    pub note: String,
}

/// The peer plan of `case`, or `None` where there is no peer (i-ResNet inversion).
pub fn plan(case: &Case, level: Level, assets: &Path) -> Option<PeerPlan> {
    let quick = level != Level::Full;
    let s = |v: usize| v.to_string();
    match case.work {
        Work::Mle { dim, hidden, batch } => {
            let (reps, seconds) = if quick { (1, 1.5) } else { (5, 3.0) };
            Some(PeerPlan {
                script: assets.join("peer_mle.py"),
                args: vec![
                    "--dim".into(),
                    s(dim),
                    "--blocks".into(),
                    s(super::cases::BLOCKS),
                    "--hidden".into(),
                    s(hidden),
                    "--batch".into(),
                    s(batch),
                    "--seconds".into(),
                    format!("{seconds}"),
                ],
                reps,
                line_has: "freia-mle",
                unit: "ms/step)",
                note: format!("{reps}× {seconds} s window after 10 warm-up steps"),
            })
        }
        Work::Inn { batch, .. } => {
            let (reps, epochs, its) = if quick { (1, 2, 4) } else { (5, 4, 8) };
            Some(PeerPlan {
                script: assets.join("peer_inn_eight_modes.py"),
                args: vec![
                    "--epochs".into(),
                    s(epochs),
                    "--its".into(),
                    s(its),
                    "--batch".into(),
                    s(batch),
                ],
                reps,
                line_has: "freia-inn-8modes",
                unit: "ms/step,",
                note: format!(
                    "{reps}× {} steps, first step included (no warm-up in the script)",
                    epochs * its
                ),
            })
        }
        Work::Mmd { .. } => {
            let reps = if quick { 1 } else { 5 };
            Some(PeerPlan {
                script: assets.join("peer_mmd.py"),
                args: Vec::new(),
                reps,
                line_has: "torch.float32",
                unit: "ms,",
                note: format!("{reps}× mean over a 3 s window (script's fixed sizes)"),
            })
        }
        Work::Sample { n, hidden } => {
            // A call takes seconds in PyTorch: the quick level times one.
            let reps = if quick { 1 } else { level.reps() };
            Some(PeerPlan {
                script: assets.join("peer_sampling.py"),
                args: vec![
                    "--n".into(),
                    s(n),
                    "--hidden".into(),
                    s(hidden),
                    "--blocks".into(),
                    s(super::cases::BLOCKS),
                    "--reps".into(),
                    s(reps),
                ],
                reps: 1,
                line_has: "peer-sampling",
                unit: "ms/call",
                note: format!("{reps} calls after 1 warm-up, torch.no_grad reverse pass"),
            })
        }
        Work::CinnConv {
            bins,
            hidden,
            batch,
        } => Some(summary_spline_plan(
            assets,
            quick,
            vec![
                "cinn-conv1d".into(),
                "--bins".into(),
                s(bins),
                "--hidden".into(),
                s(hidden),
                "--blocks".into(),
                s(super::cases::BLOCKS),
                "--batch".into(),
                s(batch),
            ],
        )),
        Work::SplineMle {
            hidden,
            bins,
            batch,
        } => Some(summary_spline_plan(
            assets,
            quick,
            vec![
                "spline-mle".into(),
                "--spline-bins".into(),
                s(bins),
                "--hidden".into(),
                s(hidden),
                "--blocks".into(),
                s(super::cases::BLOCKS),
                "--batch".into(),
                s(batch),
            ],
        )),
        Work::Invert { .. } => None,
    }
}

/// The plan of rows G and H: `peer_summary_spline.py <model> …` timed over a window after
/// warm-up steps, like `peer_mle.py`.
fn summary_spline_plan(assets: &Path, quick: bool, mut args: Vec<String>) -> PeerPlan {
    let (reps, seconds) = if quick { (1, 1.5) } else { (5, 3.0) };
    args.extend(["--seconds".into(), format!("{seconds}")]);
    PeerPlan {
        script: assets.join("peer_summary_spline.py"),
        args,
        reps,
        line_has: "peer-summary-spline",
        unit: "ms/step)",
        note: format!("{reps}× {seconds} s window after 10 warm-up steps"),
    }
}

/// The peer's timings (ms per unit, one per printed line) and peak RSS in KiB.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerResult {
    /// Milliseconds per unit, one per timing line.
    pub ms: Vec<f64>,
    /// Peak resident set size of the Python process, KiB.
    pub vm_hwm_kib: Option<u64>,
}

/// The number just before the first `unit` in `line` (a leading `(` is dropped).
fn number_before(line: &str, unit: &str) -> Option<f64> {
    let mut previous: Option<&str> = None;
    for token in line.split_whitespace() {
        if token == unit {
            return previous.and_then(|p| p.trim_start_matches('(').parse().ok());
        }
        previous = Some(token);
    }
    None
}

/// Reads the timings and the peak RSS from the wrapper's output.
pub fn parse_output(stdout: &str, plan: &PeerPlan) -> PeerResult {
    let ms = stdout
        .lines()
        .filter(|l| l.contains(plan.line_has))
        .filter_map(|l| number_before(l, plan.unit))
        .collect();
    let vm_hwm_kib = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peer-vm-hwm-kib "))
        .and_then(|v| v.trim().parse().ok());
    PeerResult { ms, vm_hwm_kib }
}

/// Runs the plan; errors when Python fails or prints no timing.
pub fn run(plan: &PeerPlan) -> Result<PeerResult> {
    if !plan.script.is_file() {
        return Err(format!("peer script {} not found", plan.script.display()).into());
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(WRAPPER)
        .arg(&plan.script)
        .arg(plan.reps.to_string())
        .args(&plan.args)
        .output()
        .map_err(|e| format!("could not start python3: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(format!(
            "{} failed ({}): {}",
            plan.script.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )
        .into());
    }
    let result = parse_output(&stdout, plan);
    if result.ms.is_empty() {
        return Err(format!(
            "{} printed no `{}` timing",
            plan.script.display(),
            plan.unit
        )
        .into());
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::cases::cases;

    fn plan_for(id: &str) -> Option<PeerPlan> {
        let case = cases(Level::Quick).into_iter().find(|c| c.id == id)?;
        plan(&case, Level::Quick, Path::new("assets"))
    }

    #[test]
    fn parses_the_anchor_scripts_lines() {
        let mle = plan_for("A").unwrap();
        let out = "freia-mle dim=2 blocks=8 hidden=128 batch=512 float32: 34.7 steps/s (28.79 ms/step)\n\
                   freia-mle dim=2 blocks=8 hidden=128 batch=512 float32: 30.0 steps/s (33.25 ms/step)\n\
                   peer-vm-hwm-kib 412345\n";
        let r = parse_output(out, &mle);
        assert_eq!(r.ms, [28.79, 33.25]);
        assert_eq!(r.vm_hwm_kib, Some(412_345));

        let inn = plan_for("D").unwrap();
        let out = "freia-inn-8modes labels=some steps=8 batch=1600: 312.5 ms/step, in_right_mode=0.1, mean_posterior_mmd=0.2\n";
        assert_eq!(parse_output(out, &inn).ms, [312.5]);

        let mmd = plan_for("E").unwrap();
        let out = "torch-mmd-unbiased n=4096 d=8 torch.float32: 181.3 ms, value 0.001\n\
                   torch-mmd-unbiased n=4096 d=8 torch.float64: 290.0 ms, value 0.001\npeak RSS 900 MiB\n";
        let r = parse_output(out, &mmd);
        assert_eq!(r.ms, [181.3]);
        assert_eq!(r.vm_hwm_kib, None);

        let sample = plan_for("F.sample").unwrap();
        let out = "peer-sampling n=100000: 812.0 ms/call\npeer-sampling n=100000: 800.5 ms/call\n";
        assert_eq!(parse_output(out, &sample).ms, [812.0, 800.5]);
        assert!(plan_for("F.invert").is_none());

        for id in ["G", "H"] {
            let plan = plan_for(id).unwrap();
            assert!(plan.script.ends_with("peer_summary_spline.py"));
            let out =
                "peer-summary-spline cinn-conv1d batch=256 float32: 50.0 steps/s (20.01 ms/step)\n";
            assert_eq!(parse_output(out, &plan).ms, [20.01]);
        }
        assert_eq!(plan_for("G").unwrap().args[0], "cinn-conv1d");
        assert_eq!(plan_for("H").unwrap().args[0], "spline-mle");
    }

    #[test]
    fn a_missing_script_is_an_error() {
        let mut p = plan_for("A").unwrap();
        p.script = PathBuf::from("/no/such/anchor.py");
        assert!(run(&p).is_err());
    }
}
