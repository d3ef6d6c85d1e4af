//! `cargo xtask ci`: the checks `.ci/run` runs, in the same order, stopping at the first failure.

use crate::figures::Result;
use std::path::Path;
use std::process::Command;

/// The checks, as argument lists for `cargo`.
const CHECKS: &[&[&str]] = &[
    &["fmt", "--all", "--check"],
    &[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ],
    &["test", "--workspace", "--release"],
];

/// Runs every check in `root` with the `cargo` that runs this task (`$CARGO`, else `cargo`).
pub fn run(root: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for args in CHECKS {
        println!("== cargo {}", args.join(" "));
        let status = Command::new(&cargo)
            .args(*args)
            .current_dir(root)
            .status()
            .map_err(|e| format!("could not start cargo: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo {}` failed ({status})", args.join(" ")).into());
        }
    }
    println!("ci: all checks passed");
    Ok(())
}
