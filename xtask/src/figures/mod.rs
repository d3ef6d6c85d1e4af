//! The figure registry: each lecture figure is a named function that computes its data with the
//! workspace crates (fixed seeds) and draws it once to PNG and once to SVG.
//!
//! Adding a figure is one file `figures/<name>.rs` with a `pub fn run(ctx: &Context) ->
//! Result<Vec<PathBuf>>` and one entry in [`FIGURES`]. Networks that several figures show are
//! trained once per [`Context`] in [`trainings`].

mod adhoc_inversion;
mod banach_convergence;
mod calibration_cinn;
mod circle_map;
mod cobweb_logistic;
mod fixed_point_stability;
mod flow_two_moons;
mod inn_eight_modes;
mod mmd_moments;
mod nice_rnvp_transform;
mod plane;
mod spectrum_posterior;
pub mod style;
mod training_curves;
pub mod trainings;

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

/// Any error of a task, with a message for the user.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `Result` with the tasks' [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A registered figure.
pub struct Figure {
    /// File stem of the outputs (`<name>.png`, `<name>.svg`) and the `--only` key.
    pub name: &'static str,
    /// One line on what the figure shows.
    pub description: &'static str,
    /// Computes and draws the figure; returns the files written.
    pub run: fn(&Context) -> Result<Vec<PathBuf>>,
}

/// Every figure, in the order of the lecture.
pub const FIGURES: &[Figure] = &[
    Figure {
        name: "cobweb_logistic",
        description: "cobwebs of the logistic map: fixed point (r = 2.8), 2-cycle (3.2), chaos (3.9)",
        run: cobweb_logistic::run,
    },
    Figure {
        name: "fixed_point_stability",
        description: "a stable (|f'(x*)| < 1) and an unstable (|f'(x*)| > 1) fixed point",
        run: fixed_point_stability::run,
    },
    Figure {
        name: "circle_map",
        description: "circle map with no fixed point (Ω = 0.1, K = 0.5): iterates drift",
        run: circle_map::run,
    },
    Figure {
        name: "banach_convergence",
        description: "inverting a residual map x + g(x): error vs iteration against the Banach bound",
        run: banach_convergence::run,
    },
    Figure {
        name: "mmd_moments",
        description: "equal means, different spreads: the mean difference misses what MMD² sees",
        run: mmd_moments::run,
    },
    Figure {
        name: "nice_rnvp_transform",
        description: "a grid and samples pushed through trained NICE and RealNVP stacks, both ways",
        run: nice_rnvp_transform::run,
    },
    Figure {
        name: "flow_two_moons",
        description: "normalizing flow: base samples, generated samples, learned log-density",
        run: flow_two_moons::run,
    },
    Figure {
        name: "inn_eight_modes",
        description: "eight-modes toy: INN and cINN posterior samples per label vs the exact ones",
        run: inn_eight_modes::run,
    },
    Figure {
        name: "adhoc_inversion",
        description: "gradient descent from 64 starts onto a level set vs cINN/INN posterior samples",
        run: adhoc_inversion::run,
    },
    Figure {
        name: "calibration_cinn",
        description: "SBC and coverage of a well-trained and an under-trained cINN (linear-Gaussian)",
        run: calibration_cinn::run,
    },
    Figure {
        name: "spectrum_posterior",
        description: "a 200-bin spectrum's posterior: cINN with a conv1d summary vs raw bins, against Metropolis",
        run: spectrum_posterior::run,
    },
    Figure {
        name: "training_curves",
        description: "loss curves of the flow, INN, cINN and forward-model trainings",
        run: training_curves::run,
    },
];

/// How much work a run may do: the lecture figures (`Full`), a smoke run (`Quick`), or the
/// unit test of the registry (`Test`, smaller still: it checks that every figure draws, not
/// that the networks are trained well).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// The unit test's budget (only the test builds one).
    #[cfg_attr(not(test), allow(dead_code))]
    Test,
    /// `--quick`.
    Quick,
    /// The committed figures.
    Full,
}

/// What a figure function gets: where to write, how much work to do, and the trainings
/// already done in this run (shared by the figures that show the same networks).
#[derive(Debug, Clone)]
pub struct Context {
    out_dir: PathBuf,
    budget: Budget,
    trainings: Rc<trainings::Trainings>,
}

impl Context {
    /// A context writing into `out_dir` (created if missing) with the `Quick` budget when
    /// `quick`, else `Full`; registers the bundled font.
    pub fn new(out_dir: &Path, quick: bool) -> Result<Self> {
        Self::with_budget(out_dir, if quick { Budget::Quick } else { Budget::Full })
    }

    /// A context writing into `out_dir` (created if missing) with the given budget.
    pub fn with_budget(out_dir: &Path, budget: Budget) -> Result<Self> {
        style::register_fonts()?;
        std::fs::create_dir_all(out_dir)
            .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
        Ok(Self {
            out_dir: out_dir.to_path_buf(),
            budget,
            trainings: Rc::default(),
        })
    }

    /// `quick` in a quick run (and in the test), `full` otherwise.
    pub fn pick<V>(&self, quick: V, full: V) -> V {
        match self.budget {
            Budget::Test | Budget::Quick => quick,
            Budget::Full => full,
        }
    }

    /// `test`, `quick` or `full` by the budget: for the trainings, which the unit test cuts
    /// further than `--quick` does.
    pub fn pick3<V>(&self, test: V, quick: V, full: V) -> V {
        match self.budget {
            Budget::Test => test,
            Budget::Quick => quick,
            Budget::Full => full,
        }
    }

    /// The trainings done so far in this run.
    pub fn trainings(&self) -> &trainings::Trainings {
        &self.trainings
    }

    /// Draws `chart` to `<out_dir>/<name>.png` and `<out_dir>/<name>.svg`; returns both paths.
    pub fn render<C: Chart>(&self, name: &str, chart: &C) -> Result<Vec<PathBuf>> {
        let size = chart.size();
        let png = self.out_dir.join(format!("{name}.png"));
        {
            let root = BitMapBackend::new(&png, size).into_drawing_area();
            draw_on(&root, chart)?;
        }
        let svg = self.out_dir.join(format!("{name}.svg"));
        {
            let root = SVGBackend::new(&svg, size).into_drawing_area();
            draw_on(&root, chart)?;
        }
        Ok(vec![png, svg])
    }
}

/// A picture that can be drawn on any plotters backend, so the same code makes the PNG and the
/// SVG. The data is computed before; `draw` only draws.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws on `root`, which is already filled white.
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static;
}

fn draw_on<DB, C>(root: &DrawingArea<DB, Shift>, chart: &C) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    C: Chart,
{
    root.fill(&WHITE)?;
    // A margin all round, so the title and the outermost axis labels are not cut off.
    chart.draw(&root.margin(12, 12, 12, 12))?;
    root.present()?;
    Ok(())
}

/// The registered figures named in `only` (all when empty), in registry order; an unknown name
/// is an error that lists the known ones.
pub fn select(only: &[String]) -> Result<Vec<&'static Figure>> {
    if let Some(unknown) = only
        .iter()
        .find(|o| !FIGURES.iter().any(|f| f.name == o.as_str()))
    {
        let known: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
        return Err(format!("no figure `{unknown}`; known: {}", known.join(", ")).into());
    }
    Ok(FIGURES
        .iter()
        .filter(|f| only.is_empty() || only.iter().any(|o| o == f.name))
        .collect())
}

/// How one figure went.
#[derive(Debug, Clone)]
pub struct Report {
    /// The figure.
    pub name: &'static str,
    /// Wall-clock seconds to compute and draw it.
    pub seconds: f64,
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// Runs `figures` in order with a progress line each; stops at the first error, naming the
/// figure.
pub fn run_all(figures: &[&Figure], ctx: &Context) -> Result<Vec<Report>> {
    let mut reports = Vec::with_capacity(figures.len());
    for (i, figure) in figures.iter().enumerate() {
        println!(
            "[{}/{}] {} — {}",
            i + 1,
            figures.len(),
            figure.name,
            figure.description
        );
        let start = Instant::now();
        let files = (figure.run)(ctx).map_err(|e| format!("figure {}: {e}", figure.name))?;
        let seconds = start.elapsed().as_secs_f64();
        println!("      done in {seconds:.2} s, {} files", files.len());
        reports.push(Report {
            name: figure.name,
            seconds,
            files,
        });
    }
    Ok(reports)
}

/// `cargo xtask reproduce-figures`: runs the selected figures and prints a summary table.
pub fn reproduce(out_dir: &Path, only: &[String], quick: bool) -> Result<()> {
    let figures = select(only)?;
    let ctx = Context::new(out_dir, quick)?;
    println!(
        "reproduce-figures: {} figure(s) into {}{}",
        figures.len(),
        out_dir.display(),
        if quick { " (quick)" } else { "" }
    );
    let reports = run_all(&figures, &ctx)?;
    print_summary(&reports, out_dir);
    Ok(())
}

fn print_summary(reports: &[Report], out_dir: &Path) {
    let width = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!();
    println!("{:<width$}  {:>8}  files", "figure", "seconds");
    println!("{}", "-".repeat(width + 30));
    for r in reports {
        let files: Vec<String> = r
            .files
            .iter()
            .map(|f| f.strip_prefix(out_dir).unwrap_or(f).display().to_string())
            .collect();
        println!(
            "{:<width$}  {:>8.2}  {}",
            r.name,
            r.seconds,
            files.join(", ")
        );
    }
    let total: f64 = reports.iter().map(|r| r.seconds).sum();
    println!("{}", "-".repeat(width + 30));
    println!("{:<width$}  {total:>8.2}", "total");
}

/// `reproduce-figures --list`: the registered names and descriptions.
pub fn print_list() {
    for f in FIGURES {
        println!("{:<24} {}", f.name, f.description);
    }
}

/// A fresh output folder for a test, unique to this process.
#[cfg(test)]
fn test_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("inn-xtask-{tag}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_writes_a_png_and_an_svg_at_the_test_budget() {
        let dir = test_dir("all");
        // The test budget trains every network for a few dozen steps: the figures draw, the
        // networks are not good; `--quick` and the full run are measured in the report.
        let ctx = Context::with_budget(&dir, Budget::Test).unwrap();
        let figures = select(&[]).unwrap();
        assert_eq!(figures.len(), FIGURES.len());
        let reports = run_all(&figures, &ctx).unwrap();
        for (figure, report) in FIGURES.iter().zip(&reports) {
            assert_eq!(figure.name, report.name);
            for ext in ["png", "svg"] {
                let path = dir.join(format!("{}.{ext}", figure.name));
                assert!(
                    report.files.contains(&path),
                    "{} not reported",
                    path.display()
                );
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                assert!(len > 1000, "{} has {len} bytes", path.display());
            }
            let png = std::fs::read(dir.join(format!("{}.png", figure.name))).unwrap();
            assert_eq!(&png[1..4], b"PNG");
            let svg = std::fs::read_to_string(dir.join(format!("{}.svg", figure.name))).unwrap();
            assert!(
                svg.contains("<svg") && svg.contains("<text"),
                "{}",
                figure.name
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_are_unique_and_selection_checks_them() {
        let mut names: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIGURES.len());
        let picked = select(&["mmd_moments".into(), "cobweb_logistic".into()]).unwrap();
        let picked: Vec<&str> = picked.iter().map(|f| f.name).collect();
        assert_eq!(picked, ["cobweb_logistic", "mmd_moments"]);
        let err = select(&["no_such_figure".into()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no_such_figure") && err.contains("circle_map"),
            "{err}"
        );
    }
}
