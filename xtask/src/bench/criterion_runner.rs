//! `cargo xtask bench --criterion`: the workspace's criterion benchmarks, one section per bench
//! target (`crates/<crate>/benches/<name>.rs`), found on disk so a new bench needs no entry here.

use crate::figures::Result;
use std::path::Path;
use std::process::Command;

/// A bench target: `cargo bench -p <package> --bench <bench>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Section {
    package: String,
    bench: String,
}

impl Section {
    fn name(&self) -> String {
        format!("{}/{}", self.package, self.bench)
    }
}

/// The bench targets under `root/crates`, sorted by name.
fn sections(root: &Path) -> Result<Vec<Section>> {
    let mut found = Vec::new();
    for krate in std::fs::read_dir(root.join("crates"))? {
        let krate = krate?.path();
        let Ok(benches) = std::fs::read_dir(krate.join("benches")) else {
            continue;
        };
        let package = krate
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for file in benches {
            let file = file?.path();
            if file.extension().is_some_and(|e| e == "rs")
                && let Some(stem) = file.file_stem()
            {
                found.push(Section {
                    package: package.clone(),
                    bench: stem.to_string_lossy().into_owned(),
                });
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Lists (`list`) or runs the sections named in `only` (all when empty), stopping at the first
/// failure.
pub fn run(root: &Path, only: &[String], list: bool) -> Result<()> {
    let all = sections(root)?;
    if let Some(unknown) = only.iter().find(|o| !all.iter().any(|s| &s.name() == *o)) {
        let known: Vec<String> = all.iter().map(Section::name).collect();
        return Err(format!("no bench section `{unknown}`; known: {}", known.join(", ")).into());
    }
    let chosen: Vec<&Section> = all
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.name()))
        .collect();
    if list {
        for s in &chosen {
            println!("{}", s.name());
        }
        return Ok(());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for s in chosen {
        println!("== bench {}", s.name());
        let status = Command::new(&cargo)
            .args(["bench", "-p", &s.package, "--bench", &s.bench])
            .current_dir(root)
            .status()
            .map_err(|e| format!("could not start cargo: {e}"))?;
        if !status.success() {
            return Err(format!("bench {} failed ({status})", s.name()).into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workspace_benches() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let names: Vec<String> = sections(&root).unwrap().iter().map(Section::name).collect();
        // Every section points at a real file, and the list is sorted and free of duplicates.
        for n in &names {
            let (package, bench) = n.split_once('/').unwrap();
            assert!(
                root.join("crates")
                    .join(package)
                    .join("benches")
                    .join(format!("{bench}.rs"))
                    .is_file()
            );
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert!(names.iter().any(|n| n == "discrepancy/mmd"), "{names:?}");
        assert!(run(&root, &["no_such/bench".to_string()], true).is_err());
    }
}
