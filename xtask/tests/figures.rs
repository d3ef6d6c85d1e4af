//! End-to-end: `xtask reproduce-figures --quick` writes a non-empty PNG and SVG for every
//! figure that `--list` names, and rejects an unknown `--only` name.

use std::path::PathBuf;
use std::process::Command;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn registered_figures() -> Vec<String> {
    let out = xtask()
        .args(["reproduce-figures", "--list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn quick_run_writes_every_figure() {
    let names = registered_figures();
    assert!(names.len() >= 5, "{names:?}");
    let dir: PathBuf = std::env::temp_dir().join(format!("inn-xtask-cli-{}", std::process::id()));
    let out = xtask()
        .args(["reproduce-figures", "--quick", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in &names {
        // The summary table has a row per figure.
        assert!(
            stdout.lines().any(|l| l.starts_with(name.as_str())),
            "{stdout}"
        );
        for ext in ["png", "svg"] {
            let path = dir.join(format!("{name}.{ext}"));
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(len > 1000, "{} has {len} bytes", path.display());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_figure_is_an_error() {
    let out = xtask()
        .args(["reproduce-figures", "--quick", "--only", "no_such_figure"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_figure"));
}
