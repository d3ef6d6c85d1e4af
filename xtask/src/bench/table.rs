//! The performance table: one [`Row`] per configuration, rendered as aligned plain text with the
//! per-row notes underneath.

/// The peer's entry of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerCell {
    /// Median milliseconds per unit over `runs` timings.
    Measured {
        /// Median ms per unit.
        ms: f64,
        /// Timings the median is taken over.
        runs: usize,
    },
    /// Python, torch or FrEIA is missing.
    NotInstalled,
    /// The row has no peer (i-ResNet inversion).
    NoPeer,
    /// Not run in this mode (tiny sizes are not the peer's).
    Skipped,
    /// The script failed; the message goes into the notes.
    Failed,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Configuration id (`A`, …, `F.invert`).
    pub id: String,
    /// What is timed.
    pub what: String,
    /// The unit of the ms columns.
    pub unit: String,
    /// Our median ms per unit.
    pub ours_ms: Option<f64>,
    /// The peer's entry.
    pub peer: PeerCell,
    /// Our GEMM GFLOP/s at the median time.
    pub gflops: Option<f64>,
    /// `gflops` as a fraction of the measured GEMM peak.
    pub peak_fraction: Option<f64>,
    /// Our peak RSS, MiB.
    pub ours_rss_mib: Option<f64>,
    /// The peer's peak RSS, MiB.
    pub peer_rss_mib: Option<f64>,
    /// Notes printed under the table.
    pub notes: Vec<String>,
}

impl Row {
    /// peer / ours: above 1 means we are faster.
    pub fn ratio(&self) -> Option<f64> {
        match (self.ours_ms, &self.peer) {
            (Some(ours), PeerCell::Measured { ms, .. }) if ours > 0.0 => Some(ms / ours),
            _ => None,
        }
    }
}

fn fixed(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.digits$}"))
}

/// Milliseconds with about three significant digits.
fn millis(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
        None => "—".to_string(),
    }
}

/// Renders the rows as one aligned table (header, rule, rows) followed by the notes.
pub fn render(rows: &[Row]) -> String {
    let header = [
        "config", "ours ms", "peer ms", "ratio", "GFLOP/s", "% peak", "RSS ours", "RSS peer",
        "per", "what",
    ];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let peer = match &r.peer {
                PeerCell::Measured { ms, .. } => millis(Some(*ms)),
                PeerCell::NotInstalled => "peer not installed (pip install torch FrEIA)".into(),
                PeerCell::NoPeer => "—".into(),
                PeerCell::Skipped => "skipped".into(),
                PeerCell::Failed => "failed".into(),
            };
            let mib = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.0} MiB"));
            [
                r.id.clone(),
                millis(r.ours_ms),
                peer,
                r.ratio().map_or_else(|| "—".into(), |x| format!("{x:.2}×")),
                fixed(r.gflops, 1),
                r.peak_fraction
                    .map_or_else(|| "—".into(), |f| format!("{:.0}%", 100.0 * f)),
                mib(r.ours_rss_mib),
                mib(r.peer_rss_mib),
                r.unit.clone(),
                r.what.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| -> String {
        let parts: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(k, (c, &w))| {
                let pad = w - c.chars().count();
                // Text columns (config, per, what) align left, numbers right.
                if k == 0 || k >= 8 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = String::new();
    out.push_str(&line(&header.map(String::from)));
    out.push('\n');
    let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"-".repeat(total.min(160)));
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
        out.push('\n');
    }
    for r in rows {
        for n in &r.notes {
            out.push_str(&format!("  {}: {n}\n", r.id));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, ours: Option<f64>, peer: PeerCell) -> Row {
        Row {
            id: id.into(),
            what: "w".into(),
            unit: "step".into(),
            ours_ms: ours,
            peer,
            gflops: Some(80.0),
            peak_fraction: Some(0.5),
            ours_rss_mib: Some(20.0),
            peer_rss_mib: None,
            notes: vec![format!("note of {id}")],
        }
    }

    #[test]
    fn ratio_is_peer_over_ours_and_cells_say_why_they_are_empty() {
        let faster = row("A", Some(20.0), PeerCell::Measured { ms: 30.0, runs: 5 });
        assert_eq!(faster.ratio(), Some(1.5));
        let rows = [
            faster,
            row("B", Some(10.0), PeerCell::NotInstalled),
            row("F.invert", Some(5.0), PeerCell::NoPeer),
        ];
        let text = render(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("config"), "{text}");
        assert!(
            lines[2].contains("1.50×") && lines[2].contains("30.0"),
            "{text}"
        );
        assert!(lines[3].contains("peer not installed"), "{text}");
        assert!(lines[4].starts_with("F.invert"), "{text}");
        assert!(text.contains("  B: note of B"), "{text}");
    }
}
