//! `cargo xtask ci`: the checks `.ci/run` runs, in the same order, stopping at the first failure.

use crate::figures::Result;
use std::path::Path;
use std::process::Command;

/// The checks, as argument lists for `cargo`, each with the `RUSTDOCFLAGS` it runs under.
const CHECKS: &[(&[&str], Option<&str>)] = &[
    (&["fmt", "--all", "--check"], None),
    (
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        None,
    ),
    (&["doc", "--workspace", "--no-deps"], Some("-D warnings")),
    (&["test", "--workspace", "--release"], None),
];

/// Runs every check in `root` with the `cargo` that runs this task (`$CARGO`, else `cargo`).
pub fn run(root: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for (args, rustdocflags) in CHECKS {
        println!("== cargo {}", args.join(" "));
        let mut command = Command::new(&cargo);
        command.args(*args).current_dir(root);
        if let Some(flags) = rustdocflags {
            command.env("RUSTDOCFLAGS", flags);
        }
        let status = command
            .status()
            .map_err(|e| format!("could not start cargo: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo {}` failed ({status})", args.join(" ")).into());
        }
    }
    println!("ci: all checks passed");
    Ok(())
}
