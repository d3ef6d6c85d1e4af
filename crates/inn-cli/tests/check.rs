//! End-to-end tests of `inn check` and `inn plot`: reports on two problems with known
//! posteriors (a linear-Gaussian problem and the eight-modes toy), opened in a real headless
//! browser where one is installed, and one test per kind of bad input.

mod common;

use common::{inn, p, scratch, stderr, stdout};
use inn::data::LabelMap;
use inn::data::toy::{LinearGaussian, eight_modes};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Writes a CSV with a header and one row per pair of rows of `x` and `y`.
fn write_table(path: &Path, x_names: &[String], y_names: &[String], rows: &[(Vec<f64>, Vec<f64>)]) {
    let mut text = x_names
        .iter()
        .chain(y_names)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for (x, y) in rows {
        let cells: Vec<String> = x.iter().chain(y).map(|v| v.to_string()).collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).expect("cannot write the table");
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|j| format!("{prefix}{j}")).collect()
}

/// Training and test tables of the standard linear-Gaussian problem (5 parameters, 8 observables).
fn linear_gaussian_tables(dir: &Path, n_train: usize, n_test: usize) -> (PathBuf, PathBuf) {
    let problem = LinearGaussian::standard();
    let mut rng = StdRng::seed_from_u64(1);
    let (xn, yn) = (names("theta", 5), names("y", 8));
    let mut paths = Vec::new();
    for (name, n) in [("train.csv", n_train), ("test.csv", n_test)] {
        let (theta, y) = problem.simulate(n, &mut rng);
        let rows: Vec<(Vec<f64>, Vec<f64>)> = (0..n)
            .map(|i| {
                (
                    theta.row(i).iter().copied().collect(),
                    y.row(i).iter().copied().collect(),
                )
            })
            .collect();
        let path = dir.join(name);
        write_table(&path, &xn, &yn, &rows);
        paths.push(path);
    }
    (paths[0].clone(), paths[1].clone())
}

/// Training and test tables of the eight-modes toy with labels `some` (one-hot y, 4 labels).
fn eight_modes_tables(dir: &Path, n_train: usize, n_test: usize) -> (PathBuf, PathBuf) {
    let mut rng = StdRng::seed_from_u64(2);
    let (xn, yn) = (names("x", 2), names("label", 4));
    let mut paths = Vec::new();
    for (name, n) in [("train.csv", n_train), ("test.csv", n_test)] {
        let d = eight_modes(n, LabelMap::Some, &mut rng);
        let rows: Vec<(Vec<f64>, Vec<f64>)> = (0..n)
            .map(|i| {
                (
                    d.x.row(i).iter().copied().collect(),
                    d.y_onehot.row(i).iter().take(4).copied().collect(),
                )
            })
            .collect();
        let path = dir.join(name);
        write_table(&path, &xn, &yn, &rows);
        paths.push(path);
    }
    (paths[0].clone(), paths[1].clone())
}

fn fit(train: &Path, x: &str, y: &str, steps: &str, model: &Path) {
    let out = inn(&[
        "fit",
        "--data",
        p(train),
        "--x",
        x,
        "--y",
        y,
        "--steps",
        steps,
        "--blocks",
        "4",
        "--hidden",
        "64,64",
        "--seed",
        "3",
        "--out",
        p(model),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Runs `inn check` and returns its summary.json.
fn check(model: &Path, test: &Path, out: &Path, draws: &str, obs: &str) -> Value {
    let o = inn(&[
        "check",
        "--model",
        p(model),
        "--data",
        p(test),
        "--out",
        p(out),
        "-n",
        draws,
        "--max-obs",
        obs,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    eprintln!("{}", stdout(&o));
    for stem in ["sbc_ecdf", "coverage", "recovery", "contraction_z"] {
        for ext in ["png", "svg"] {
            let f = out.join(format!("{stem}.{ext}"));
            let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            assert!(len > 2000, "{} has {len} bytes", f.display());
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4, "four inline figures");
    assert!(!html.contains("<?xml") && html.contains("id=\"verdicts\""));
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A cINN trained briefly on the linear-Gaussian problem: the report has every part, one
/// verdict per parameter, and coverage numbers consistent with the verdict list.
#[test]
fn check_reports_on_the_linear_gaussian_problem() {
    let dir = scratch("linear");
    let (train, test) = linear_gaussian_tables(&dir, 3000, 300);
    let model = dir.join("model.inn");
    fit(&train, "0..5", "5..13", "400", &model);
    let out = dir.join("report");
    let s = check(&model, &test, &out, "200", "150");
    assert_eq!(s["n_obs"], 150);
    assert_eq!(s["n_draws"], 200);
    assert_eq!(s["parameters"].as_array().unwrap().len(), 5);
    let verdicts = s["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 5);
    for v in verdicts {
        let kind = v["verdict"].as_str().unwrap();
        assert!(
            ["calibrated", "overconfident", "underconfident", "biased"].contains(&kind),
            "{v}"
        );
    }
    let d = &s["diagnostics"];
    assert_eq!(d["sbc"][0]["ranks"].as_array().unwrap().len(), 150);
    // A cINN has a density: the joint highest-density coverage is there.
    assert!(s["largest_under_coverage"]["highest_density"].is_number());
    // The posterior is informative: recovery R² well above 0 for the first parameter
    // (the exact posterior's is about 0.95).
    let r2 = d["recovery"][0]["r2"].as_f64().unwrap();
    assert!(r2 > 0.5, "R² = {r2}");
}

/// The eight-modes toy (a multimodal posterior); the report also goes through `inn plot`.
#[test]
fn check_and_plot_the_eight_modes_problem() {
    let dir = scratch("eight");
    let (train, test) = eight_modes_tables(&dir, 3000, 200);
    let model = dir.join("model.inn");
    fit(
        &train,
        "x0,x1",
        "label0,label1,label2,label3",
        "300",
        &model,
    );
    let s = check(&model, &test, &dir.join("report"), "100", "200");
    assert_eq!(s["n_obs"], 200);
    assert_eq!(s["verdicts"].as_array().unwrap().len(), 2);
    for out in ["corner.png", "corner.svg"] {
        let path = dir.join(out);
        let o = inn(&[
            "plot",
            "--model",
            p(&model),
            "--y",
            "1,0,0,0",
            "--truth",
            "0,-4",
            "-n",
            "2000",
            "--out",
            p(&path),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 2000, "{out}");
        if out.ends_with("png") {
            assert_eq!(&bytes[1..4], b"PNG");
        } else {
            let text = String::from_utf8(bytes).unwrap();
            // Three panels (two histograms, one 2-D histogram), the red truth mark.
            assert!(text.contains("<svg") && text.contains("x1"), "svg");
            assert!(
                text.contains("#D62728")
                    || text.contains("rgb(214,39,40)")
                    || text.contains("#d62728")
            );
        }
    }
}

/// A browser on this machine, if any: `INN_BROWSER`, else chromium or Chrome on the PATH.
fn browser() -> Option<String> {
    if let Ok(b) = std::env::var("INN_BROWSER") {
        return Some(b);
    }
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .into_iter()
    .find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .map(str::to_string)
}

/// The report opens in a real headless browser: the DOM has the verdicts, the table and the
/// four figures with their drawings, and a screenshot is drawn. Skipped, with a message, where
/// no browser is installed.
#[test]
fn the_report_opens_in_a_headless_browser() {
    let Some(browser) = browser() else {
        eprintln!(
            "SKIPPED the_report_opens_in_a_headless_browser: no chromium or Chrome on the PATH \
             (apt-get install chromium, or set INN_BROWSER)"
        );
        return;
    };
    let dir = scratch("browser");
    let (train, test) = linear_gaussian_tables(&dir, 1000, 60);
    let model = dir.join("model.inn");
    fit(&train, "0..5", "5..13", "60", &model);
    let out = dir.join("report");
    check(&model, &test, &out, "100", "60");
    let page = format!("file://{}", p(&out.join("report.html")));
    // A fresh profile and no background connections: CI machines have no network, and a
    // browser that keeps retrying its update and sync hosts only slows the test down.
    let profile = format!("--user-data-dir={}", p(&dir.join("profile")));
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        profile.as_str(),
    ];
    let dom = Command::new(&browser)
        .args(common)
        .args(["--dump-dom", &page])
        .output()
        .expect("cannot run the browser");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("Calibration report"), "{dom}");
    for id in ["sbc_ecdf", "coverage", "recovery", "contraction_z"] {
        let at = dom
            .find(&format!("<figure id=\"{id}\">"))
            .unwrap_or_else(|| panic!("figure {id} missing from the DOM"));
        let figure = &dom[at..];
        let end = figure.find("</figure>").expect("figure closed");
        let figure = &figure[..end];
        // Every figure is a drawn SVG: lines and labels.
        assert!(figure.contains("<svg") && figure.contains("<text"), "{id}");
        assert!(
            figure.matches("<polyline").count() + figure.matches("<circle").count() > 3,
            "{id}"
        );
    }
    let shot = out.join("screenshot.png");
    let o = Command::new(&browser)
        .args(common)
        .args([
            &format!("--screenshot={}", p(&shot)),
            "--window-size=1400,5200",
            &page,
        ])
        .output()
        .expect("cannot run the browser");
    let len = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        len > 50_000,
        "screenshot {} has {len} bytes: {}",
        shot.display(),
        stderr(&o)
    );
    eprintln!("screenshot: {}", shot.display());
}

/// Bad input is an error naming the file and the column (exit code 1), or a usage error for
/// options out of range (exit code 2, as in every subcommand).
#[test]
fn bad_input_is_named() {
    let dir = scratch("bad");
    let (train, test) = linear_gaussian_tables(&dir, 300, 20);
    let model = dir.join("model.inn");
    fit(&train, "0..5", "5..13", "5", &model);
    let out = dir.join("report");
    let run = |data: &Path, extra: &[&str]| {
        let mut args = vec![
            "check",
            "--model",
            p(&model),
            "--data",
            p(data),
            "--out",
            p(&out),
        ];
        args.extend_from_slice(extra);
        inn(&args)
    };
    let fails = |o: &Output, code: i32, words: &[&str]| {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(code), "{err}");
        for w in words {
            assert!(err.contains(w), "stderr lacks {w:?}: {err}");
        }
    };
    // A test table without a column the model needs.
    let text = std::fs::read_to_string(&test).unwrap();
    let missing = dir.join("missing.csv");
    let dropped: String = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    std::fs::write(&missing, dropped).unwrap();
    fails(&run(&missing, &[]), 1, &["missing.csv", "y7"]);
    // NaN in the table.
    let nan = dir.join("nan.csv");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<&str> = lines[3].split(',').collect();
    cells[2] = "NaN";
    lines[3] = cells.join(",");
    std::fs::write(&nan, lines.join("\n")).unwrap();
    fails(&run(&nan, &[]), 1, &["nan.csv", "line 4", "theta2"]);
    // N or L zero (or one draw, which has no spread).
    fails(&run(&test, &["-n", "0"]), 2, &["--num-samples"]);
    fails(&run(&test, &["-n", "1"]), 2, &["--num-samples"]);
    fails(&run(&test, &["--max-obs", "0"]), 2, &["--max-obs"]);
    // A model without y: a flow.
    let flow = dir.join("flow.inn");
    let o = inn(&[
        "fit",
        "--data",
        p(&train),
        "--x",
        "0..5",
        "--method",
        "flow",
        "--steps",
        "5",
        "--out",
        p(&flow),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = inn(&[
        "check",
        "--model",
        p(&flow),
        "--data",
        p(&test),
        "--out",
        p(&out),
    ]);
    fails(&o, 1, &["flow.inn", "no observations y"]);
    let o = inn(&[
        "plot",
        "--model",
        p(&flow),
        "--y",
        "1",
        "--out",
        p(&dir.join("c.png")),
    ]);
    fails(&o, 1, &["flow.inn", "no posterior"]);
    // inn plot: a wrong width of --y or --truth.
    let o = inn(&[
        "plot",
        "--model",
        p(&model),
        "--y",
        "1,2",
        "--out",
        p(&dir.join("c.png")),
    ]);
    fails(&o, 2, &["--y", "width"]);
    let y8 = "0,0,0,0,0,0,0,0";
    let o = inn(&[
        "plot",
        "--model",
        p(&model),
        "--y",
        y8,
        "--truth",
        "1,2,x,4,5",
        "--out",
        p(&dir.join("c.png")),
    ]);
    fails(&o, 2, &["--truth", "theta2", "`x`"]);
}

#[test]
fn check_and_plot_have_help_with_an_example() {
    for cmd in ["check", "plot"] {
        let o = inn(&[cmd, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{cmd}");
        let text = stdout(&o);
        assert!(
            text.contains("Example") && text.contains(&format!("inn {cmd} --model")),
            "{text}"
        );
    }
    let top = stdout(&inn(&["--help"]));
    assert!(
        top.contains("inn check") && top.contains("inn plot"),
        "{top}"
    );
}
