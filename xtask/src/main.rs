//! Project tasks: `cargo xtask reproduce-figures`, `cargo xtask bench`, `cargo xtask quality`,
//! `cargo xtask ci`.

mod bench;
mod ci;
mod figures;
mod quality;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Project tasks for the `inn` workspace.
#[derive(Debug, Parser)]
#[command(name = "xtask", about = "Project tasks for the inn workspace")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Recompute the lecture figures with the workspace crates and write PNG + SVG files.
    ReproduceFigures {
        /// Output folder (created if missing).
        #[arg(long, default_value = "docs/figures")]
        out: PathBuf,
        /// Only these figures (comma-separated names; see --list).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Fewer iterations and samples: a smoke test that finishes in seconds.
        #[arg(long)]
        quick: bool,
        /// Print the registered figures and exit.
        #[arg(long)]
        list: bool,
    },
    /// The performance table (ours against the PyTorch/FrEIA peer on configurations A–H), or
    /// with --criterion the criterion benchmarks of the workspace.
    Bench {
        /// Only these rows (A,…,E, F.sample, F.invert, G, H; F for both) or, with --criterion,
        /// sections (comma-separated, as printed by --list).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Print the rows (or sections) and exit.
        #[arg(long)]
        list: bool,
        /// Fewer repetitions and steps: about two minutes with the peer.
        #[arg(long)]
        quick: bool,
        /// Run the criterion benches (one section per bench target) instead of the table.
        #[arg(long)]
        criterion: bool,
        /// Tiny sizes, one repetition, no peer: a smoke test of the table code.
        #[arg(long, hide = true)]
        tiny: bool,
        /// Measure one row in this process and print a report line (used by the table).
        #[arg(long, hide = true)]
        child: Option<String>,
    },
    /// The generalisation suite: problems with exact posteriors or densities at 10³, 10⁴ and
    /// 10⁵ rows, fitted by the `inn` command line with its defaults and scored on held-out rows
    /// (NLL gap to the exact model, C2ST). Slow: tens of minutes.
    Quality {
        /// Training-table sizes.
        #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 10_000, 100_000])]
        rows: Vec<usize>,
        /// Only these problems (comma-separated; see --list).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Also run this (older) `inn` binary on the same tables, for a before/after table.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Also write the markdown table to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the problems and exit.
        #[arg(long)]
        list: bool,
        /// An extra `inn fit` option for the current binary (repeatable), e.g.
        /// `--fit-arg=--activation --fit-arg=relu`.
        #[arg(long = "fit-arg", allow_hyphen_values = true)]
        fit_args: Vec<String>,
    },
    /// The checks of `.ci/run`: fmt, clippy with -D warnings, release tests.
    Ci,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::ReproduceFigures {
            out,
            only,
            quick,
            list,
        } => {
            if list {
                figures::print_list();
                Ok(())
            } else {
                figures::reproduce(&workspace_path(out), &only, quick)
            }
        }
        Command::Bench {
            only,
            list,
            quick,
            criterion,
            tiny,
            child,
        } => bench::run(
            &workspace_root(),
            &bench::Options {
                only,
                list,
                quick,
                criterion,
                tiny,
                child,
            },
        ),
        Command::Quality {
            rows,
            only,
            baseline,
            out,
            list,
            fit_args,
        } => quality::run(
            &workspace_root(),
            &quality::Options {
                rows,
                only,
                baseline,
                out: out.map(workspace_path),
                list,
                fit_args,
            },
        ),
        Command::Ci => ci::run(&workspace_root()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this package's folder.
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

/// A relative path is taken from the workspace root (so `cargo xtask` behaves the same from any
/// sub-folder); an absolute one is kept.
fn workspace_path(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        workspace_root().join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn only_takes_a_comma_separated_list() {
        let cli = Cli::try_parse_from([
            "xtask",
            "reproduce-figures",
            "--only",
            "circle_map,mmd_moments",
            "--quick",
        ])
        .unwrap();
        match cli.command {
            Command::ReproduceFigures {
                only, quick, out, ..
            } => {
                assert_eq!(only, ["circle_map", "mmd_moments"]);
                assert!(quick);
                assert_eq!(out, PathBuf::from("docs/figures"));
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn unknown_subcommands_are_rejected() {
        assert!(Cli::try_parse_from(["xtask", "figures"]).is_err());
    }
}
