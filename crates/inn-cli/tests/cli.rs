//! End-to-end tests of the `inn` command-line tool: fit → sample → eval on a simulator with a
//! known posterior, and one test per user error (message and exit code).

mod common;

use common::{inn, p, scratch, stderr, stdout};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Asserts the exit code and that stderr contains every word of `words`.
fn assert_fails(o: &Output, code: i32, words: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    for w in words {
        assert!(err.contains(w), "stderr lacks {w:?}: {err}");
    }
}

/// The simulator `y = x1² + x2² + ε`, `x ~ N(0, I)`, `ε ~ N(0, 0.05²)`: the posterior of x for
/// an observed y lies on the circle of radius √y, with a uniform angle.
fn write_circle_runs(path: &Path, n: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::from("x1,x2,y\n");
    for _ in 0..n {
        let a: f64 = rng.sample(StandardNormal);
        let b: f64 = rng.sample(StandardNormal);
        let e: f64 = rng.sample(StandardNormal);
        text.push_str(&format!("{a},{b},{}\n", a * a + b * b + 0.05 * e));
    }
    std::fs::write(path, text).expect("cannot write the runs");
}

/// Held-out rows that share observations: for each y₀, 100 points x = √(y₀ − ε)·(cos θ, sin θ)
/// (draws from the posterior up to the nearly flat prior across the thin ring).
fn write_circle_test(path: &Path, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::from("x1,x2,y\n");
    for y0 in [0.5, 1.0, 2.0] {
        for _ in 0..100 {
            let t = rng.random_range(0.0..std::f64::consts::TAU);
            let e: f64 = rng.sample(StandardNormal);
            let r = (y0 - 0.05 * e).max(1e-6).sqrt();
            text.push_str(&format!("{},{},{y0}\n", r * t.cos(), r * t.sin()));
        }
    }
    std::fs::write(path, text).expect("cannot write the test rows");
}

/// Parses `obs,x1,x2` sample CSV text into `(obs, x1, x2)` rows.
fn parse_samples(text: &str) -> Vec<(usize, f64, f64)> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("obs,x1,x2"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "{l}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

/// The samples of one observation lie near the circle of radius √y and cover its angles.
fn assert_on_circle(samples: &[(usize, f64, f64)], obs: usize, y: f64) {
    let pts: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.0 == obs)
        .map(|s| (s.1, s.2))
        .collect();
    assert!(
        pts.len() >= 500,
        "{} samples for observation {obs}",
        pts.len()
    );
    let r = y.sqrt();
    let mut dev: Vec<f64> = pts.iter().map(|(a, b)| (a.hypot(*b) - r).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let median = dev[dev.len() / 2];
    assert!(
        median < 0.15 * r,
        "y = {y}: median |‖x‖ − √y| = {median}, limit {}",
        0.15 * r
    );
    eprintln!(
        "y = {y}: median deviation {:.4} = {:.3}·√y",
        median,
        median / r
    );
    let mut octants = [0usize; 8];
    for (a, b) in &pts {
        let k = ((b.atan2(*a) + std::f64::consts::PI) / std::f64::consts::FRAC_PI_4) as usize;
        octants[k.min(7)] += 1;
    }
    // An octant counts as populated with at least a quarter of its uniform share.
    let populated = octants.iter().filter(|&&c| c * 32 >= pts.len()).count();
    eprintln!("y = {y}: octant counts {octants:?}");
    assert!(populated >= 6, "y = {y}: octant counts {octants:?}");
}

/// Pulls the number after `label` from a line of `inn eval` output.
fn number_after(text: &str, label: &str) -> f64 {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        + label.len();
    text[start..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {text}"))
}

#[test]
fn fit_sample_eval_recover_the_circle_posterior() {
    let dir = scratch("circle");
    let (runs, test, model, post) = (
        dir.join("runs.csv"),
        dir.join("test.csv"),
        dir.join("model.inn"),
        dir.join("post.csv"),
    );
    write_circle_runs(&runs, 4000, 1);
    write_circle_test(&test, 2);

    let fit = inn(&[
        "fit",
        "--data",
        p(&runs),
        "--x",
        "x1,x2",
        "--y",
        "y",
        "--steps",
        "500",
        "--blocks",
        "4",
        "--hidden",
        "64,64",
        "--seed",
        "3",
        "--out",
        p(&model),
    ]);
    assert_eq!(fit.status.code(), Some(0), "{}", stderr(&fit));
    let out = stdout(&fit);
    // Model selection on the held-out rows, and a summary that says how training ended.
    for line in [
        "stopped: ",
        "validation: every ",
        "saved the parameters of step ",
        "baseline: a diagonal Gaussian",
    ] {
        assert!(out.contains(line), "fit output lacks {line:?}: {out}");
    }
    let train = number_after(&out, "data units): train ");
    let val = number_after(&out, ", validation ");
    let baseline = number_after(&out, "scores ");
    assert!(val < baseline, "{out}");
    assert!((val - train).abs() < 0.5, "{out}");

    let sample = inn(&[
        "sample",
        "--model",
        p(&model),
        "--y",
        "1.0",
        "--y",
        "2.0",
        "-n",
        "1000",
        "--seed",
        "4",
        "--out",
        p(&post),
    ]);
    assert_eq!(sample.status.code(), Some(0), "{}", stderr(&sample));
    let samples = parse_samples(&std::fs::read_to_string(&post).unwrap());
    assert_eq!(samples.len(), 2000);
    assert_on_circle(&samples, 0, 1.0);
    assert_on_circle(&samples, 1, 2.0);

    // Without --out the same samples go to stdout.
    let to_stdout = inn(&[
        "sample",
        "--model",
        p(&model),
        "--y",
        "1.0",
        "--y",
        "2.0",
        "-n",
        "1000",
        "--seed",
        "4",
    ]);
    assert_eq!(stdout(&to_stdout), std::fs::read_to_string(&post).unwrap());

    let eval = inn(&["eval", "--model", p(&model), "--data", p(&test)]);
    assert_eq!(eval.status.code(), Some(0), "{}", stderr(&eval));
    let report = stdout(&eval);
    assert!(report.contains("mean log p(x | y)"), "{report}");
    let calibration = number_after(&report, "0 is ideal):");
    assert!(calibration < 0.1, "{report}");
    let mmd = number_after(&report, "standardised x):");
    let baseline = number_after(&report, "instead of the posterior:");
    assert!(mmd < 0.6 * baseline, "{report}");

    let info = inn(&["info", "--model", p(&model)]);
    let text = stdout(&info);
    for word in [
        "cinn",
        "version 3 (safetensors)",
        "x1, x2",
        "y columns (1):  y",
        "of at most 500",
        "stopped by:",
    ] {
        assert!(text.contains(word), "info lacks {word:?}: {text}");
    }
}

#[test]
fn flow_and_inn_methods_round_trip_through_their_model_files() {
    let dir = scratch("methods");
    let runs = dir.join("runs.csv");
    write_circle_runs(&runs, 1000, 5);

    let flow = dir.join("flow.inn");
    let fit = inn(&[
        "fit",
        "--data",
        p(&runs),
        "--x",
        "0..2",
        "--y",
        "2",
        "--method",
        "flow",
        "--steps",
        "50",
        "--blocks",
        "2",
        "--hidden",
        "16",
        "--out",
        p(&flow),
    ]);
    assert_eq!(fit.status.code(), Some(0), "{}", stderr(&fit));
    let drawn = inn(&["sample", "--model", p(&flow), "-n", "7"]);
    assert_eq!(drawn.status.code(), Some(0), "{}", stderr(&drawn));
    let text = stdout(&drawn);
    assert_eq!(text.lines().next(), Some("x1,x2,y"));
    assert_eq!(text.lines().count(), 8);
    let eval = inn(&["eval", "--model", p(&flow), "--data", p(&runs)]);
    assert!(
        stdout(&eval).contains("mean log-density"),
        "{}",
        stderr(&eval)
    );
    assert_fails(
        &inn(&["sample", "--model", p(&flow), "--y", "1", "-n", "3"]),
        2,
        &["flow", "takes no --y"],
    );

    let bidirectional = dir.join("inn.inn");
    let fit = inn(&[
        "fit",
        "--data",
        p(&runs),
        "--x",
        "x1,x2",
        "--y",
        "y",
        "--method",
        "inn",
        "--steps",
        "20",
        "--blocks",
        "2",
        "--hidden",
        "16",
        "--batch",
        "64",
        "--out",
        p(&bidirectional),
    ]);
    assert_eq!(fit.status.code(), Some(0), "{}", stderr(&fit));
    assert!(stdout(&fit).contains("forward y RMSE"));
    let drawn = inn(&[
        "sample",
        "--model",
        p(&bidirectional),
        "--y",
        "1",
        "-n",
        "5",
    ]);
    assert_eq!(drawn.status.code(), Some(0), "{}", stderr(&drawn));
    assert_eq!(stdout(&drawn).lines().count(), 6);
    let eval = inn(&[
        "eval",
        "--model",
        p(&bidirectional),
        "--data",
        p(&runs),
        "--samples",
        "50",
    ]);
    assert!(
        stdout(&eval).contains("forward prediction RMSE"),
        "{}",
        stderr(&eval)
    );
    let info = stdout(&inn(&["info", "--model", p(&bidirectional)]));
    assert!(
        info.contains("kind:           inn") && info.contains("\"z_dim\":2"),
        "{info}"
    );
}

/// `inn fit --ensemble 3`: three members on one split, member k with seed S + k, member 0
/// the model `--seed S` alone trains; one file that sample, eval, info and check read; the
/// mixture's held-out NLL is at most the members' mean (Jensen: ln mean exp ≥ mean ln, row by
/// row); samples lie on the circle; an ensemble of 0 and a corrupt ensemble file are refused.
#[test]
fn an_ensemble_trains_into_one_file_that_every_command_reads() {
    let dir = scratch("ensemble");
    let (runs, test) = (dir.join("runs.csv"), dir.join("test.csv"));
    write_circle_runs(&runs, 4000, 1);
    write_circle_test(&test, 2);
    let fit = |out: &Path, extra: &[&str]| {
        let mut args = vec!["fit", "--data", p(&runs), "--x", "x1,x2", "--y", "y"];
        args.extend_from_slice(&["--steps", "500", "--blocks", "4", "--hidden", "64,64"]);
        args.extend_from_slice(&["--seed", "3", "--out", p(out)]);
        args.extend_from_slice(extra);
        let o = inn(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let (single, ensemble) = (dir.join("single.inn"), dir.join("ensemble.inn"));
    fit(&single, &[]);
    let out = fit(&ensemble, &["--ensemble", "3"]);
    for line in ["member 1 of 3 (seed 3)", "member 3 of 3 (seed 5)"] {
        assert!(out.contains(line), "fit output lacks {line:?}: {out}");
    }
    let held_out = out
        .lines()
        .find(|l| l.starts_with("ensemble of 3 members, held-out NLL"))
        .unwrap_or_else(|| panic!("no ensemble summary in {out}"));
    let members: Vec<f64> = held_out
        .split("members ")
        .nth(1)
        .and_then(|t| t.split(" (mean").next())
        .unwrap()
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect();
    let mixture = number_after(held_out, "), ensemble ");
    assert_eq!(members.len(), 3, "{held_out}");
    assert!(
        members[0] != members[1] && members[1] != members[2],
        "different seeds, different members: {held_out}"
    );
    let mean = members.iter().sum::<f64>() / 3.0;
    assert!(mixture <= mean + 1e-4, "{held_out}");

    // eval: the mixture's density, each member's, and member 0 is the single model.
    let eval = |model: &Path| {
        let o = inn(&["eval", "--model", p(model), "--data", p(&test)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let (one, all) = (eval(&single), eval(&ensemble));
    let single_lp = number_after(&one, "mean log p(x | y):");
    let each: Vec<f64> = all
        .split("members alone: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no members line in {all}"))
        .lines()
        .next()
        .unwrap()
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(each.len(), 3, "{all}");
    assert_eq!(
        each[0], single_lp,
        "member 0 is the single model: {one} {all}"
    );
    let mixture_lp = number_after(&all, "mean log p(x | y):");
    assert!(mixture_lp >= each.iter().sum::<f64>() / 3.0 - 1e-4, "{all}");
    assert!(number_after(&all, "0 is ideal):") < 0.1, "{all}");

    // sample: the mixture's posterior lies on the circle.
    let drawn = inn(&[
        "sample",
        "--model",
        p(&ensemble),
        "--y",
        "1.0",
        "-n",
        "1000",
    ]);
    assert_eq!(drawn.status.code(), Some(0), "{}", stderr(&drawn));
    assert_on_circle(&parse_samples(&stdout(&drawn)), 0, 1.0);

    let info = stdout(&inn(&["info", "--model", p(&ensemble)]));
    for word in [
        "ensemble of 3 cinn models",
        "member 3:",
        "seed 5",
        "held out:       ensemble of 3 members",
        "x columns (2):  x1, x2",
    ] {
        assert!(info.contains(word), "info lacks {word:?}: {info}");
    }
    let report = dir.join("report");
    let check = inn(&[
        "check",
        "--model",
        p(&ensemble),
        "--data",
        p(&test),
        "--out",
        p(&report),
        "-n",
        "100",
        "--max-obs",
        "30",
    ]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(report.join("summary.json").exists() && report.join("report.html").exists());

    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&runs),
            "--x",
            "x1,x2",
            "--y",
            "y",
            "--ensemble",
            "0",
            "--out",
            p(&dir.join("none.inn")),
        ]),
        2,
        &["--ensemble 0", "at least one member"],
    );
    // A flipped byte inside a member is caught by the checksums.
    let mut bytes = std::fs::read(&ensemble).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&ensemble, bytes).unwrap();
    assert_fails(
        &inn(&["sample", "--model", p(&ensemble), "--y", "1.0", "-n", "5"]),
        1,
        &["ensemble.inn"],
    );
}

/// Without held-out rows training runs to the cap and says that nothing selected the model;
/// with them, a cadence in steps and a patience of one validation stop early, and the saved
/// step is a validated one.
#[test]
fn fit_reports_how_the_model_was_selected() {
    let dir = scratch("selection");
    let runs = dir.join("runs.csv");
    write_circle_runs(&runs, 600, 5);
    let model = dir.join("m.inn");
    let base = [
        "fit",
        "--data",
        p(&runs),
        "--x",
        "x1,x2",
        "--y",
        "y",
        "--blocks",
        "2",
        "--hidden",
        "16",
        "--batch",
        "64",
        "--out",
        p(&model),
    ];
    let fit = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let o = inn(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let out = fit(&["--val-frac", "0", "--steps", "30"]);
    assert!(out.contains("30 steps of at most 30"), "{out}");
    assert!(out.contains("reached the step cap"), "{out}");
    assert!(out.contains("no rows held out"), "{out}");

    let out = fit(&[
        "--validate-every",
        "3",
        "--patience",
        "1",
        "--steps",
        "3000",
        "--weight-decay",
        "1e-4",
        "--y-noise",
        "0.05",
    ]);
    assert!(
        out.contains("stopped: no validation improvement in 1 validations"),
        "{out}"
    );
    assert!(out.contains("validation: every 3 steps,"), "{out}");
    let steps = number_after(&out, " s: ");
    let saved = number_after(&out, "saved the parameters of step ");
    assert!(
        steps < 3000.0 && saved < steps && saved % 3.0 == 0.0,
        "{out}"
    );
    let info = stdout(&inn(&["info", "--model", p(&model)]));
    assert!(info.contains("weight decay 0.0001"), "{info}");
    assert!(info.contains("stopped by:     patience"), "{info}");
}

/// Model files written by the release before this one (format version 1, without the
/// options added since) load, and draw exactly the samples the old binary drew from them.
#[test]
fn version_1_model_files_still_load_and_sample_the_same() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (kind, y) in [("cinn", Some("1.5")), ("flow", None), ("inn", Some("1.5"))] {
        let model = data.join(format!("v1_{kind}.inn"));
        let mut args = vec!["sample", "--model", p(&model), "-n", "5", "--seed", "2"];
        if let Some(y) = y {
            args.extend(["--y", y]);
        }
        let drawn = inn(&args);
        assert_eq!(drawn.status.code(), Some(0), "{kind}: {}", stderr(&drawn));
        let expected =
            std::fs::read_to_string(data.join(format!("v1_{kind}.samples.csv"))).unwrap();
        assert_eq!(stdout(&drawn), expected, "{kind}");
        let info = stdout(&inn(&["info", "--model", p(&model)]));
        assert!(info.contains("version 1"), "{info}");
    }
}

/// A tiny cINN on the circle data, for the tests that need a model file.
fn tiny_model(dir: &Path) -> PathBuf {
    tiny_model_as(dir, "tiny.inn")
}

/// [`tiny_model`] saved as `name` (its extension picks the container), trained on
/// `dir/runs.csv`.
fn tiny_model_as(dir: &Path, name: &str) -> PathBuf {
    let runs = dir.join("runs.csv");
    write_circle_runs(&runs, 200, 7);
    let model = dir.join(name);
    let fit = inn(&[
        "fit",
        "--data",
        p(&runs),
        "--x",
        "x1,x2",
        "--y",
        "y",
        "--steps",
        "5",
        "--blocks",
        "2",
        "--hidden",
        "8",
        "--out",
        p(&model),
    ]);
    assert_eq!(fit.status.code(), Some(0), "{}", stderr(&fit));
    model
}

/// `inn fit` on `text` (a CSV table with columns `a,b,y`) with extra options.
fn fit_table(dir: &Path, name: &str, text: &str, extra: &[&str]) -> Output {
    let data = dir.join(format!("{name}.csv"));
    std::fs::write(&data, text).expect("cannot write the table");
    let out = dir.join(format!("{name}.inn"));
    let mut args = vec!["fit", "--data", p(&data), "--out", p(&out), "--steps", "20"];
    args.extend_from_slice(&["--blocks", "2", "--hidden", "8"]);
    args.extend_from_slice(extra);
    inn(&args)
}

#[test]
fn tables_too_small_or_degenerate_for_a_model_are_refused_with_the_reason() {
    let dir = scratch("degenerate");
    let flow = ["--method", "flow", "--x", "a,b"];
    // One row: no row can be held out, and the message says what to do.
    assert_fails(
        &fit_table(&dir, "one", "a,b,y\n1,2,3\n", &flow),
        1,
        &["one.csv", "1 row(s) are too few", "--val-frac 0"],
    );
    // Without validation, one row is still not a table a density can be fitted to.
    let mut no_val = flow.to_vec();
    no_val.extend_from_slice(&["--val-frac", "0"]);
    assert_fails(
        &fit_table(&dir, "one_noval", "a,b,y\n1,2,3\n", &no_val),
        1,
        &["1 training row(s)", "at least 3"],
    );
    // A column that never changes: its density is a point mass.
    let mut rng = StdRng::seed_from_u64(5);
    let mut constant = String::from("a,b,y\n");
    for _ in 0..200 {
        let v: f64 = rng.sample(StandardNormal);
        let w: f64 = rng.sample(StandardNormal);
        constant.push_str(&format!("{v},4.5,{w}\n"));
    }
    assert_fails(
        &fit_table(&dir, "constant", &constant, &flow),
        1,
        &["column `b` is constant (4.5)", "point mass"],
    );
    // A constant observation column is legitimate for a cINN (it carries no information),
    // so it is a warning; so are a minibatch larger than the table and training without
    // held-out rows.
    let cinn = [
        "--method",
        "cinn",
        "--x",
        "a,y",
        "--y",
        "b",
        "--batch",
        "512",
        "--val-frac",
        "0",
    ];
    let o = fit_table(&dir, "constant_y", &constant, &cinn);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    for w in [
        "observation column `b` is constant",
        "--batch 512 is more than the 200 training rows",
        "--val-frac 0 holds out no rows",
    ] {
        assert!(err.contains(w), "stderr lacks {w:?}: {err}");
    }
}

#[test]
fn a_missing_data_file_is_named() {
    let dir = scratch("missing");
    let gone = dir.join("nope.csv");
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&gone),
            "--x",
            "0",
            "--y",
            "1",
            "--out",
            "m.inn",
        ]),
        1,
        &["nope.csv"],
    );
}

#[test]
fn a_ragged_row_is_named_by_file_and_line() {
    let dir = scratch("ragged");
    let data = dir.join("ragged.csv");
    std::fs::write(&data, "a,b,c\n1,2,3\n4,5\n").unwrap();
    let model = dir.join("m.inn");
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "a,b",
            "--y",
            "c",
            "--out",
            p(&model),
        ]),
        1,
        &["ragged.csv", "line 3", "2 fields, expected 3"],
    );
}

#[test]
fn a_non_numeric_cell_is_named_by_file_line_and_column() {
    let dir = scratch("non-numeric");
    let data = dir.join("words.csv");
    std::fs::write(&data, "a,b,c\n1,2,3\n4,five,6\n").unwrap();
    let model = dir.join("m.inn");
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "a,b",
            "--y",
            "c",
            "--out",
            p(&model),
        ]),
        1,
        &[
            "words.csv",
            "line 3",
            "column 1",
            "`b`",
            "`five` is not a number",
        ],
    );
}

#[test]
fn nan_and_inf_cells_are_named_by_file_line_and_column() {
    let dir = scratch("non-finite");
    for (name, cell) in [("nan.csv", "NaN"), ("inf.csv", "inf")] {
        let data = dir.join(name);
        std::fs::write(&data, format!("a,b,c\n1,2,3\n4,5,6\n7,8,{cell}\n")).unwrap();
        let model = dir.join("m.inn");
        let cell_words = format!("`{cell}` is not finite");
        assert_fails(
            &inn(&[
                "fit",
                "--data",
                p(&data),
                "--x",
                "a,b",
                "--y",
                "c",
                "--out",
                p(&model),
            ]),
            1,
            &[name, "line 4", "column 2", "`c`", &cell_words],
        );
    }
}

#[test]
fn an_unknown_column_is_named_with_the_file_and_the_known_columns() {
    let dir = scratch("unknown-column");
    let data = dir.join("runs.csv");
    write_circle_runs(&data, 20, 8);
    let model = dir.join("m.inn");
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "x1,x3",
            "--y",
            "y",
            "--out",
            p(&model),
        ]),
        1,
        &["runs.csv", "--x", "unknown column `x3`", "x1, x2, y"],
    );
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "0..5",
            "--y",
            "y",
            "--out",
            p(&model),
        ]),
        1,
        &["runs.csv", "out of range", "3 columns"],
    );
    // The held-out table of `inn eval` must have the model's columns.
    let model = tiny_model(&dir);
    let other = dir.join("other.csv");
    std::fs::write(&other, "x1,z,y\n1,2,3\n").unwrap();
    assert_fails(
        &inn(&["eval", "--model", p(&model), "--data", p(&other)]),
        1,
        &["other.csv", "unknown column `x2`"],
    );
}

#[test]
fn a_wrong_observation_width_is_reported() {
    let dir = scratch("obs-width");
    let model = tiny_model(&dir);
    assert_fails(
        &inn(&["sample", "--model", p(&model), "--y", "0.3,1.2", "-n", "5"]),
        2,
        &["wrong observation width", "2 values", "has 1 (y)"],
    );
    assert_fails(
        &inn(&["sample", "--model", p(&model), "--y", "abc", "-n", "5"]),
        2,
        &["column 0", "`y`", "`abc` is not a number"],
    );
    // A finite value that leaves single precision once standardised is named in the user's
    // terms: which observation, which column, why.
    assert_fails(
        &inn(&["sample", "--model", p(&model), "--y", "1e308", "-n", "5"]),
        1,
        &[
            "observation 0, column `y`",
            "1e308",
            "overflows after standardisation",
        ],
    );
    let obs = dir.join("obs.csv");
    std::fs::write(&obs, "u,v\n1,2\n").unwrap();
    assert_fails(
        &inn(&[
            "sample",
            "--model",
            p(&model),
            "--y-file",
            p(&obs),
            "-n",
            "5",
        ]),
        1,
        &["obs.csv", "wrong observation width", "line 1 has 2 columns"],
    );
    // A file naming the y column is read by name, whatever else it holds.
    std::fs::write(&obs, "u,y\n1,2\n3,0.5\n").unwrap();
    let ok = inn(&[
        "sample",
        "--model",
        p(&model),
        "--y-file",
        p(&obs),
        "-n",
        "5",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(stdout(&ok).lines().count(), 11);
}

/// Replaces the first occurrence of `from` in a (binary) file by `to`, of the same length.
fn edit_file(path: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{} lacks {from:?}", path.display()));
    bytes[at..at + from.len()].copy_from_slice(to.as_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_model_of_another_format_version_is_refused() {
    let dir = scratch("version");
    let model = tiny_model(&dir);
    let json = tiny_model_as(&dir, "tiny.json");
    edit_file(&model, "\"version\":\"3\"", "\"version\":\"9\"");
    edit_file(&json, "\"version\":2,", "\"version\":9,");
    for (file, name) in [(&model, "tiny.inn"), (&json, "tiny.json")] {
        for cmd in ["info", "sample"] {
            let mut args = vec![cmd, "--model", p(file)];
            if cmd == "sample" {
                args.extend(["--y", "1", "-n", "3"]);
            }
            assert_fails(
                &inn(&args),
                1,
                &[name, "format version 9", "reads versions [1, 2, 3]"],
            );
        }
    }
}

/// The annotations travel in the model's own metadata map: the library reads them back from a
/// file `inn fit` wrote, and a model saved by the library without them is refused by name.
#[test]
fn annotations_live_in_the_model_metadata_map() {
    let dir = scratch("metadata");
    let model = tiny_model(&dir);
    let cinn = inn::train::ConditionalInn::<f32>::load(&model).unwrap();
    let cli = &cinn.metadata()["cli"];
    assert_eq!(cli["method"], "cinn");
    assert_eq!(cli["x_names"], serde_json::json!(["x1", "x2"]));

    let mut rng = StdRng::seed_from_u64(3);
    let bare = dir.join("bare.inn");
    let config = inn::train::InnConfig {
        stack: inn::train::paper_stack().with_widths(1, &[4]),
        n_tot: 4,
        ..inn::train::InnConfig::default()
    };
    inn::train::Inn::<f32>::new(config, 2, 1, 2, &mut rng)
        .unwrap()
        .save(&bare)
        .unwrap();
    assert_fails(
        &inn(&["info", "--model", p(&bare)]),
        1,
        &["bare.inn", "not written by `inn fit`"],
    );
}

/// Truncated files, an edited header (a column name), a flipped tensor byte: refused by name,
/// in both containers.
#[test]
fn a_corrupt_model_file_is_refused() {
    let dir = scratch("corrupt");
    let runs = dir.join("runs.csv");
    for name in ["tiny.inn", "tiny.json"] {
        let model = tiny_model_as(&dir, name);
        let good = std::fs::read(&model).unwrap();
        let eval = || inn(&["eval", "--model", p(&model), "--data", p(&runs)]);
        std::fs::write(&model, &good[..good.len() / 2]).unwrap();
        assert_fails(
            &inn(&["info", "--model", p(&model)]),
            1,
            &[name, "truncated or corrupt"],
        );
        // An edited column name fails the (header) checksum.
        std::fs::write(&model, &good).unwrap();
        edit_file(&model, "x1", "q1");
        assert_fails(&eval(), 1, &[name, "checksum mismatch"]);
        if name == "tiny.inn" {
            let mut flipped = good.clone();
            *flipped.last_mut().unwrap() ^= 0x40;
            std::fs::write(&model, &flipped).unwrap();
            assert_fails(&eval(), 1, &[name, "checksum mismatch in the tensors"]);
        }
    }
    let missing = dir.join("gone.inn");
    assert_fails(&inn(&["info", "--model", p(&missing)]), 1, &["gone.inn"]);
}

/// The same model saved as safetensors and as JSON (same data, same seed) draws the same
/// samples; `inn info` tells the containers apart.
#[test]
fn safetensors_and_json_model_files_sample_the_same() {
    let dir = scratch("containers");
    let tensors = tiny_model_as(&dir, "m.safetensors");
    let json = tiny_model_as(&dir, "m.json");
    assert_ne!(std::fs::read(&tensors).unwrap()[0], b'{');
    let draw = |model: &Path| {
        let o = inn(&["sample", "--model", p(model), "--y", "1.2", "-n", "50"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(draw(&tensors), draw(&json));
    let info = stdout(&inn(&["info", "--model", p(&tensors)]));
    assert!(info.contains("version 3 (safetensors)"), "{info}");
    let info = stdout(&inn(&["info", "--model", p(&json)]));
    assert!(info.contains("version 2 (JSON)"), "{info}");
}

/// The same table as CSV, `.npz` and Parquet (written by the library, with the npyz and
/// parquet crates) trains the same model, and `--y-file` reads observations from each; the
/// samples written as `.npy`, `.npz` and `.parquet` are the CSV output's numbers.
#[test]
fn npz_and_parquet_tables_fit_and_sample_like_csv() {
    use inn_cli::table::Table;
    let dir = scratch("formats");
    let csv = dir.join("runs.csv");
    write_circle_runs(&csv, 300, 8);
    let table = Table::load(&csv).unwrap();
    let obs = Table::new(
        vec!["y".into()],
        inn::autodiff::nalgebra::DMatrix::from_column_slice(2, 1, &[0.7, 1.9]),
    )
    .unwrap();
    let mut drawn = Vec::new();
    for ext in ["csv", "npz", "parquet"] {
        let data = dir.join(format!("runs.{ext}"));
        table.save(&data).unwrap();
        assert_eq!(Table::load(&data).unwrap(), table, "{ext}");
        let model = dir.join(format!("{ext}.inn"));
        let fit = inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "x1,x2",
            "--y",
            "y",
            "--steps",
            "5",
            "--blocks",
            "2",
            "--hidden",
            "8",
            "--out",
            p(&model),
        ]);
        assert_eq!(fit.status.code(), Some(0), "{ext}: {}", stderr(&fit));
        let y_file = dir.join(format!("obs.{ext}"));
        obs.save(&y_file).unwrap();
        let o = inn(&[
            "sample",
            "--model",
            p(&model),
            "--y-file",
            p(&y_file),
            "-n",
            "40",
        ]);
        assert_eq!(o.status.code(), Some(0), "{ext}: {}", stderr(&o));
        drawn.push(stdout(&o));
    }
    assert_eq!(drawn[0], drawn[1]);
    assert_eq!(drawn[0], drawn[2]);

    // The CSV output's numbers (single precision, printed shortest), exactly, in every binary
    // output.
    let csv_out = dir.join("post.csv");
    std::fs::write(&csv_out, &drawn[0]).unwrap();
    let expected = Table::load(&csv_out).unwrap();
    assert_eq!(expected.names(), ["obs", "x1", "x2"]);
    for ext in ["npy", "npz", "parquet"] {
        let out = dir.join(format!("post.{ext}"));
        let model = dir.join("csv.inn");
        let o = inn(&[
            "sample",
            "--model",
            p(&model),
            "--y-file",
            p(&dir.join("obs.csv")),
            "-n",
            "40",
            "--out",
            p(&out),
        ]);
        assert_eq!(o.status.code(), Some(0), "{ext}: {}", stderr(&o));
        let back = Table::load(&out).unwrap();
        let single = |t: &Table| t.data().map(|v| v as f32);
        assert_eq!(single(&back), single(&expected), "{ext}");
        if ext != "npy" {
            assert_eq!(back.names(), expected.names(), "{ext}");
        }
    }
    let o = inn(&[
        "sample",
        "--model",
        p(&dir.join("csv.inn")),
        "--y",
        "1",
        "-n",
        "3",
        "--out",
        p(&dir.join("post.xlsx")),
    ]);
    assert_fails(&o, 2, &["post.xlsx", ".parquet"]);
}

#[test]
fn usage_errors_exit_with_code_2() {
    let dir = scratch("usage");
    let data = dir.join("runs.csv");
    write_circle_runs(&data, 20, 9);
    let model = dir.join("m.inn");
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "x1,x2",
            "--out",
            p(&model),
        ]),
        2,
        &["--y"],
    );
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "x1",
            "--y",
            "y",
            "--val-frac",
            "1.5",
            "--out",
            p(&model),
        ]),
        2,
        &["--val-frac", "1.5"],
    );
    for (option, value) in [
        ("--validate-every", "0"),
        ("--validate-every", "weekly"),
        ("--weight-decay", "-1"),
        ("--y-noise", "nan"),
        ("--activation", "cubic"),
    ] {
        let given = format!("{option}={value}");
        assert_fails(
            &inn(&[
                "fit",
                "--data",
                p(&data),
                "--x",
                "x1",
                "--y",
                "y",
                &given,
                "--out",
                p(&model),
            ]),
            2,
            &[option, value],
        );
    }
    assert_fails(
        &inn(&[
            "fit",
            "--data",
            p(&data),
            "--x",
            "x1,x2",
            "--method",
            "flow",
            "--y-noise",
            "0.1",
            "--out",
            p(&model),
        ]),
        2,
        &["--y-noise"],
    );
    assert_fails(&inn(&["sample", "--model", p(&model)]), 2, &["-n"]);
    assert_fails(&inn(&["frobnicate"]), 2, &["frobnicate"]);
    let model = tiny_model(&dir);
    assert_fails(
        &inn(&["sample", "--model", p(&model), "-n", "3"]),
        2,
        &["--y VALUES"],
    );
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for cmd in [
        vec!["--help"],
        vec!["fit", "--help"],
        vec!["sample", "--help"],
        vec!["eval", "--help"],
        vec!["info", "--help"],
    ] {
        let o = inn(&cmd);
        assert_eq!(o.status.code(), Some(0), "{cmd:?}");
        let text = stdout(&o);
        assert!(
            text.contains("Example") && text.contains("inn "),
            "{cmd:?}: {text}"
        );
    }
}

/// `x = (mu, log_sigma)` and `y1..y5`: five draws of N(mu, sigma²), `mu ~ N(0, 1)`,
/// `log_sigma ~ U(-0.5, 0.5)`.
fn write_normal_sets(path: &Path, n: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::from("mu,log_sigma,y1,y2,y3,y4,y5\n");
    for _ in 0..n {
        let mu: f64 = rng.sample(StandardNormal);
        let log_sigma = rng.random_range(-0.5..0.5);
        text.push_str(&format!("{mu},{log_sigma}"));
        for _ in 0..5 {
            let e: f64 = rng.sample(StandardNormal);
            text.push_str(&format!(",{}", mu + f64::exp(log_sigma) * e));
        }
        text.push('\n');
    }
    std::fs::write(path, text).expect("cannot write the runs");
}

/// Posterior samples as rows of numbers (the header checked, `obs` dropped).
fn sample_rows(text: &str, header: &str) -> Vec<Vec<f64>> {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header));
    lines
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect()
}

/// A cINN with a deep-set summary of the five draws: fit, info, sample (the same samples for
/// the draws in another order), eval; and the refusals of options that do not fit.
#[test]
fn cinn_with_a_deep_set_summary_fits_samples_and_evaluates() {
    let dir = scratch("summary");
    let (runs, model) = (dir.join("runs.csv"), dir.join("model.inn"));
    write_normal_sets(&runs, 400, 1);
    let fit_with = |extra: &[&str]| {
        let mut args = vec!["fit", "--data", p(&runs), "--x", "mu,log_sigma"];
        args.extend_from_slice(&["--y", "y1,y2,y3,y4,y5", "--out", p(&model)]);
        args.extend_from_slice(&["--steps", "30", "--blocks", "2", "--hidden", "16"]);
        args.extend_from_slice(extra);
        inn(&args)
    };
    let fit = fit_with(&[
        "--summary",
        "deepset",
        "--set-size",
        "5",
        "--summary-dim",
        "4",
    ]);
    assert_eq!(fit.status.code(), Some(0), "{}", stderr(&fit));

    let info = inn(&["info", "--model", p(&model)]);
    assert_eq!(info.status.code(), Some(0), "{}", stderr(&info));
    let text = stdout(&info);
    assert!(
        text.contains("summary:        deep_set network h(y) → 4 features, sets of 5"),
        "{text}"
    );

    let sample = |y: &str| {
        let out = inn(&[
            "sample",
            "--model",
            p(&model),
            "--y",
            y,
            "-n",
            "50",
            "--seed",
            "4",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        sample_rows(&stdout(&out), "obs,mu,log_sigma")
    };
    let a = sample("0.3,-0.2,1.1,0.7,0.4");
    let b = sample("1.1,0.4,0.3,0.7,-0.2");
    assert_eq!(a.len(), 50);
    for (ra, rb) in a.iter().zip(&b) {
        for (va, vb) in ra.iter().zip(rb) {
            assert!(
                (va - vb).abs() < 1e-4 * (1.0 + va.abs()),
                "{ra:?} vs {rb:?}"
            );
        }
    }

    let test = dir.join("test.csv");
    write_normal_sets(&test, 50, 2);
    let eval = inn(&["eval", "--model", p(&model), "--data", p(&test)]);
    assert_eq!(eval.status.code(), Some(0), "{}", stderr(&eval));

    // Options that do not fit the method or the columns.
    assert_fails(
        &fit_with(&["--summary", "deepset", "--method", "inn"]),
        2,
        &["--summary applies to --method cinn only", "output"],
    );
    assert_fails(
        &fit_with(&["--summary", "deepset", "--set-size", "3"]),
        1,
        &["--set-size 3", "5 y column(s) do not divide"],
    );
    assert_fails(
        &fit_with(&["--summary", "mlp", "--set-size", "5"]),
        2,
        &["--set-size applies to --summary deepset only"],
    );
    assert_fails(&fit_with(&["--summary-dim", "4"]), 2, &["add --summary"]);
    // A dense and a convolutional summary fit the same table.
    for kind in ["mlp", "conv1d"] {
        let fit = fit_with(&["--summary", kind]);
        assert_eq!(fit.status.code(), Some(0), "{kind}: {}", stderr(&fit));
        let info = stdout(&inn(&["info", "--model", p(&model)]));
        assert!(
            info.contains(&format!("summary:        {kind} network")),
            "{info}"
        );
    }
}

#[test]
fn spline_couplings_fit_sample_eval_and_show_in_info() {
    let dir = scratch("spline");
    let runs = dir.join("runs.csv");
    let test = dir.join("test.csv");
    write_circle_runs(&runs, 200, 11);
    write_circle_test(&test, 12);
    for method in ["cinn", "flow", "inn"] {
        let model = dir.join(format!("{method}.inn"));
        let fit = inn(&[
            "fit",
            "--data",
            p(&runs),
            "--x",
            "x1,x2",
            "--y",
            "y",
            "--method",
            method,
            "--coupling",
            "spline",
            "--bins",
            "5",
            "--bound",
            "4",
            "--steps",
            "5",
            "--blocks",
            "2",
            "--hidden",
            "8",
            "--out",
            p(&model),
        ]);
        assert_eq!(fit.status.code(), Some(0), "{method}: {}", stderr(&fit));
        let mut args = vec!["sample", "--model", p(&model), "-n", "20"];
        if method != "flow" {
            args.extend(["--y", "0.8"]);
        }
        let drawn = inn(&args);
        assert_eq!(drawn.status.code(), Some(0), "{method}: {}", stderr(&drawn));
        assert_eq!(
            stdout(&drawn).lines().count(),
            21,
            "{method}: header + 20 rows"
        );
        let eval = inn(&[
            "eval",
            "--model",
            p(&model),
            "--data",
            p(&test),
            "--samples",
            "20",
        ]);
        assert_eq!(eval.status.code(), Some(0), "{method}: {}", stderr(&eval));
        let info = stdout(&inn(&["info", "--model", p(&model)]));
        assert!(
            info.contains("coupling:       spline, 5 bins on [-4.0, 4.0]"),
            "{method}: {info}"
        );
    }
    // The default stays the affine coupling.
    let affine = tiny_model(&dir);
    let info = stdout(&inn(&["info", "--model", p(&affine)]));
    assert!(
        info.contains("coupling:       glow (conditional)"),
        "{info}"
    );

    let out = dir.join("bad.inn");
    let bad = inn(&[
        "fit",
        "--data",
        p(&runs),
        "--x",
        "x1,x2",
        "--y",
        "y",
        "--coupling",
        "quadratic",
        "--out",
        p(&out),
    ]);
    assert_fails(&bad, 2, &["quadratic", "--coupling", "affine", "spline"]);
    let stray = inn(&[
        "fit",
        "--data",
        p(&runs),
        "--x",
        "x1,x2",
        "--y",
        "y",
        "--bins",
        "4",
        "--out",
        p(&out),
    ]);
    assert_fails(&stray, 2, &["--coupling spline"]);
}
