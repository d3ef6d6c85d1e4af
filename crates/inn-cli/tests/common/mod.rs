//! What the command line's integration tests share: scratch folders, running the `inn` binary,
//! and reading its output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh scratch folder for one test, under a folder of this test binary and process.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!(
            "inn-{}-tests-{}",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ))
        .join(test);
    std::fs::create_dir_all(&dir).expect("cannot create the scratch folder");
    dir
}

/// Runs `inn` with `args`.
pub fn inn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inn"))
        .args(args)
        .output()
        .expect("cannot run the inn binary")
}

/// The standard output of a run, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The standard error of a run, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path as an argument (scratch paths are UTF-8).
pub fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
