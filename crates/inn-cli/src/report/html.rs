//! `report.html`: one self-contained page (inline SVG and CSS, no scripts, no external files)
//! with the verdicts, the summary table, the figures and the model description.

use super::panels::CheckFigureKind;
use inn::diagnostics::{Diagnostics, VerdictKind};
use std::fmt::Write;

/// Escapes `&`, `<`, `>` and `"` for HTML text and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Everything the report page shows.
#[derive(Clone, Debug)]
pub struct ReportPage<'a> {
    /// The model file, as given.
    pub model: String,
    /// The held-out table, as given.
    pub data: String,
    /// Parameter names.
    pub names: &'a [String],
    /// The measurements.
    pub diagnostics: &'a Diagnostics,
    /// `inn info`'s lines.
    pub model_description: Vec<String>,
    /// The figures, as SVG text.
    pub figures: Vec<(CheckFigureKind, String)>,
    /// Seed of the draws.
    pub seed: u64,
    /// Wall-clock seconds of the check.
    pub seconds: f64,
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.92em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
.calibrated{color:#1a7f37}.overconfident,.biased{color:#c62828}.underconfident{color:#b26a00}\
figure{margin:1.2em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:.92em;color:#444;max-width:60em}pre{background:#f7f7f7;padding:.8em;overflow-x:auto}\
.meta{color:#555}";

impl ReportPage<'_> {
    /// The page.
    pub fn render(&self) -> String {
        let d = self.diagnostics;
        let name = |j: usize| html_escape(self.names.get(j).map_or("?", String::as_str));
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>inn check: {}</title><style>{STYLE}</style></head><body>\n",
            html_escape(&self.model)
        );
        let _ = writeln!(
            h,
            "<h1>Calibration report</h1><p class=\"meta\">model <code>{}</code> on held-out \
             <code>{}</code>: {} observations × {} posterior draws, seed {}, {:.1} s</p>",
            html_escape(&self.model),
            html_escape(&self.data),
            d.n_obs,
            d.n_draws,
            self.seed,
            self.seconds
        );
        h.push_str("<h2>Verdicts</h2><ul id=\"verdicts\">\n");
        for (j, v) in d.verdicts.iter().enumerate() {
            let kind = v.kind.name();
            let _ = writeln!(
                h,
                "<li class=\"{kind}\"><b>{}</b>: <b>{kind}</b> — {}</li>",
                name(j),
                html_escape(&v.reason)
            );
        }
        h.push_str("</ul>\n");
        let c = &d.coverage;
        let _ = write!(
            h,
            "<p>Largest under-coverage (credible level minus the fraction of true values inside): \
             central intervals <b>{:.3}</b>",
            c.central_largest_under_coverage.max(0.0)
        );
        match c.hpd_largest_under_coverage {
            Some(u) => {
                let _ = write!(
                    h,
                    ", joint highest-density regions <b>{:.3}</b>",
                    u.max(0.0)
                );
            }
            None => h.push_str(" (the model has no density, so no highest-density regions)"),
        }
        let _ = writeln!(
            h,
            "; its binomial standard error is at most {:.3} at this number of observations.</p>",
            c.standard_error.iter().copied().fold(0.0, f64::max)
        );
        let all_calibrated = d.verdicts.iter().all(|v| v.kind == VerdictKind::Calibrated);
        let _ = writeln!(
            h,
            "<p>{}</p>",
            if all_calibrated {
                "No parameter shows miscalibration at this number of observations."
            } else {
                "At least one parameter is miscalibrated: its credible regions do not mean what they say."
            }
        );

        h.push_str(
            "<h2>Summary</h2><table id=\"summary\"><tr><th>parameter</th><th>verdict</th>\
             <th>mean PIT<br>(0.5)</th><th>mean |PIT−0.5|<br>(0.25)</th><th>χ² p</th>\
             <th>ECDF in band</th><th>max under-coverage</th><th>R²</th><th>mean contraction</th>\
             <th>mean z<br>(0)</th><th>RMS z<br>(1)</th></tr>\n",
        );
        for (j, ((v, s), r)) in d.verdicts.iter().zip(&d.sbc).zip(&d.recovery).enumerate() {
            let kind = v.kind.name();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"{kind}\">{kind}</td><td>{:.3}</td><td>{:.3}</td>\
                 <td>{:.3}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:+.3}</td>\
                 <td>{:.3}</td></tr>",
                name(j),
                s.pit_mean,
                s.pit_spread,
                s.chi2_p,
                if s.outside_band { "no" } else { "yes" },
                c.central_under_coverage[j].max(0.0),
                r.r2,
                r.mean_contraction,
                r.z_mean,
                r.z_rms
            );
        }
        h.push_str("</table>\n<h2>Figures</h2>\n");
        for (kind, svg) in &self.figures {
            let _ = writeln!(
                h,
                "<figure id=\"{}\">{}<figcaption>{}</figcaption></figure>",
                kind.stem(),
                strip_xml_declaration(svg),
                html_escape(kind.explanation())
            );
        }
        h.push_str("<h2>Model</h2><pre id=\"model\">");
        for line in &self.model_description {
            h.push_str(&html_escape(line));
            h.push('\n');
        }
        h.push_str(
            "</pre>\n<h2>How the verdict is made</h2><p>Each true parameter's randomised PIT \
             u (its rank among the draws, ties broken at random) is uniform on (0, 1) when the \
             posterior is calibrated, so mean(u) = 0.5 and mean|u − 0.5| = 0.25. A parameter is \
             <i>biased</i> when |mean(u) − 0.5| exceeds both 3 standard errors and 0.05; otherwise \
             <i>overconfident</i> (too narrow) or <i>underconfident</i> (too wide) when \
             mean|u − 0.5| − 0.25 is above or below both ±3 standard errors and ±0.02; when neither \
             holds but the rank ECDF leaves its simultaneous 95 % band and a deviation exceeds its \
             tolerance, the larger deviation (in standard errors) names the kind; otherwise \
             <i>calibrated</i>: no miscalibration of practical size is detectable with this many \
             observations. Every number is in <code>summary.json</code>.</p>\n</body></html>\n",
        );
        h
    }
}

/// SVG text without a leading `<?xml …?>` line, which is not allowed inside HTML.
fn strip_xml_declaration(svg: &str) -> &str {
    let t = svg.trim_start();
    match (t.starts_with("<?xml"), t.find("?>")) {
        (true, Some(end)) => &t[end + 2..],
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_svg_loses_its_xml_declaration() {
        assert_eq!(
            html_escape("a<b & \"c\">"),
            "a&lt;b &amp; &quot;c&quot;&gt;"
        );
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"1\"></svg>";
        assert_eq!(strip_xml_declaration(svg), "\n<svg width=\"1\"></svg>");
        assert_eq!(strip_xml_declaration("<svg/>"), "<svg/>");
    }
}
