//! The rows of the performance table (configurations A–H), their sizes at each [`Level`], and
//! the analytic GEMM flop count of each.
//!
//! Flop counts (2 flops per multiply-add, GEMMs only; elementwise work is not counted):
//! - an MLP with layer sizes `s₀ → s₁ → … → s_L` on `B` rows costs `F = 2·B·Σₖ sₖ·sₖ₊₁` forward;
//!   a training step costs `3F` (the backward pass forms the input and the weight gradient of
//!   every layer, each as costly as the forward product);
//! - A–C (RealNVP, FrEIA's `RNVPCouplingBlock`): each of the `K` blocks runs four subnets,
//!   `s₁, t₁: d₁ → H → H → d₂` and `s₂, t₂: d₂ → H → H → d₁` (`d₁ = ⌊d/2⌋`, `d₂ = d − d₁`), so a
//!   step is `3 · K · 2 · (F(d₁,H,H,d₂) + F(d₂,H,H,d₁))`;
//! - D (GLOW blocks, N_tot = 16): two subnets per block, `d₁ → H → 2d₂` and `d₂ → H → 2d₁`; a
//!   step runs the network three times with gradients (forward for L_y and L_z, inverse for L_x,
//!   inverse for the reconstruction), `3 · 3 · K · (F(d₁,H,2d₂) + F(d₂,H,2d₁))`, plus the Gram
//!   products of the two MMD terms, `3 · 3 · 2·B²·w` each (`w` = 10 for `[z, y]`, 2 for `x`);
//! - E (unbiased MMD²): the three Gram products `XXᵀ, YYᵀ, XYᵀ`, `3 · 2·n·m·d`;
//! - F sampling: one inverse pass without gradients, `K · 2 · (F(d₁,H,H,d₂) + F(d₂,H,H,d₁))` at
//!   `B = n`; i-ResNet inversion: one evaluation of `g: d → h → h → d` per fixed-point
//!   iteration, `iterations · F(d,h,h,d)` at `B = n`;
//! - G (cINN with the default conv1d summary): the convolutions as products over the patches,
//!   `2·B·l_out·(kernel·c_in)·c_out` per layer (lengths 200 → 97 → 46 → 20, channels
//!   1 + position → 32 → 64 → 64, kernel 7), the head `F(64, 64)`, and `K` GLOW blocks whose
//!   subnets read their half and the 64 summary features, `F(d₁+64, H, 2d₂) + F(d₂+64, H, 2d₁)`;
//!   a step is 3 ×
//!   the forward pass;
//! - H (spline flow): two subnets per block, `d₁ → H → H → d₂(3K−1)` and `d₂ → H → H → d₁(3K−1)`,
//!   `3 · K_blocks · (F(d₁,H,H,d₂(3K−1)) + F(d₂,H,H,d₁(3K−1)))`; the spline formula itself is
//!   elementwise (our side also forms its knots with small constant products, not counted).

use inn::autodiff::conv1d_output_length;
use inn::summary::{SummaryConfig, SummaryKind};

/// How much work a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The default: the sizes of the issue, 7 timed repetitions.
    Full,
    /// The sizes of the issue, 3 shorter repetitions (about two minutes with the peer).
    Quick,
    /// Tiny sizes and one repetition: a smoke test of the table code, not a measurement.
    Tiny,
}

impl Level {
    /// The level's name in the table's header.
    pub fn name(self) -> &'static str {
        match self {
            Level::Full => "full",
            Level::Quick => "quick",
            Level::Tiny => "tiny",
        }
    }

    /// Timed repetitions (each after one discarded warm-up round).
    pub fn reps(self) -> usize {
        match self {
            Level::Full => 7,
            Level::Quick => 3,
            Level::Tiny => 1,
        }
    }

    /// Side of the square f32 product that measures the machine's GEMM peak.
    pub fn gemm_size(self) -> usize {
        match self {
            Level::Full | Level::Quick => 1024,
            Level::Tiny => 64,
        }
    }
}

/// Coupling blocks of every flow in the table.
pub const BLOCKS: usize = 8;

/// What a row times.
#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    /// One maximum-likelihood training step (forward, NLL, backward, Adam) of a RealNVP flow.
    Mle {
        /// Data dimension `d`.
        dim: usize,
        /// Hidden width `H` of every subnet (two hidden layers).
        hidden: usize,
        /// Minibatch rows.
        batch: usize,
    },
    /// One step of the Ardizzone et al. INN on the eight-modes toy (forward, L_y, MMD L_z,
    /// inverse MMD L_x, reconstruction, backward, Adam).
    Inn {
        /// Hidden width of every subnet (one hidden layer).
        hidden: usize,
        /// Minibatch rows.
        batch: usize,
    },
    /// One unbiased multi-scale IMQ MMD² estimate between two `n × d` samples.
    Mmd {
        /// Rows of each sample.
        n: usize,
        /// Columns.
        d: usize,
    },
    /// Drawing `n` samples from the (untrained) flow of configuration A.
    Sample {
        /// Samples drawn per call.
        n: usize,
        /// Hidden width of the flow's subnets.
        hidden: usize,
    },
    /// One maximum-likelihood step of a cINN with the default conv1d summary network on
    /// LorentzSpectrum spectra (`x` 9 parameters, `y` `bins` bins), the default cINN stack
    /// (GLOW blocks, subnets `→hidden→`) and optimiser.
    CinnConv {
        /// Bins of every spectrum (the summary's input length).
        bins: usize,
        /// Hidden width of every coupling subnet (one hidden layer).
        hidden: usize,
        /// Minibatch rows.
        batch: usize,
    },
    /// One maximum-likelihood training step of a flow of rational-quadratic spline couplings
    /// (two-sided, `bins` bins on `[−3, 3]`, each followed by a permutation) on BoundedModes.
    SplineMle {
        /// Hidden width `H` of every subnet (two hidden layers).
        hidden: usize,
        /// Bins of every spline.
        bins: usize,
        /// Minibatch rows.
        batch: usize,
    },
    /// Inverting an i-ResNet block on `n` points by the Banach iteration.
    Invert {
        /// Points inverted per call.
        n: usize,
        /// Dimension of the block.
        dim: usize,
        /// Hidden width of g (two hidden layers).
        hidden: usize,
    },
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// Row id: `A`–`E`, `F.sample`, `F.invert`, `G`, `H`; `--only F` selects both F rows.
    pub id: &'static str,
    /// One-line description.
    pub what: String,
    /// What one timed unit is (the "ms per …").
    pub unit: &'static str,
    /// The work.
    pub work: Work,
    /// Units per timed repetition.
    pub units_per_rep: usize,
}

impl Case {
    /// Whether `--only` names this row (its id, or the letter before the dot).
    pub fn selected_by(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name)
            || self
                .id
                .split('.')
                .next()
                .is_some_and(|group| group.eq_ignore_ascii_case(name))
    }
}

/// Every row at `level`, in table order.
pub fn cases(level: Level) -> Vec<Case> {
    let tiny = level == Level::Tiny;
    let pick = |full: usize, quick: usize, tiny: usize| match level {
        Level::Full => full,
        Level::Quick => quick,
        Level::Tiny => tiny,
    };
    let size = |real: usize, small: usize| if tiny { small } else { real };
    let mle = |id, dim, hidden, batch, steps: (usize, usize)| {
        let (dim, hidden, batch) = (dim, size(hidden, 8), size(batch, 32));
        let half = dim / 2;
        Case {
            id,
            what: format!(
                "MLE flow {dim}-D, {BLOCKS} RealNVP, subnets {half}→{hidden}→{hidden}→{}, batch {batch}",
                dim - half
            ),
            unit: "step",
            work: Work::Mle { dim, hidden, batch },
            units_per_rep: pick(steps.0, steps.1, 2),
        }
    };
    let inn_hidden = size(512, 16);
    let inn_batch = size(1600, 64);
    let mmd_n = size(4096, 64);
    let sample_n = size(100_000, 256);
    let invert_n = size(10_000, 64);
    let invert_hidden = size(128, 8);
    // Tiny: 64 bins leave room for the default three convolutions (kernel 7, stride 2 need ≥ 43).
    let cinn_bins = size(200, 64);
    let cinn_hidden = size(512, 16);
    let step_batch = size(256, 32);
    let spline_hidden = size(128, 8);
    vec![
        mle("A", 2, 128, 512, (20, 8)),
        mle("B", 2, 512, 1024, (5, 2)),
        mle("C", 64, 256, 256, (20, 8)),
        Case {
            id: "D",
            what: format!(
                "INN 8-modes, N_tot 16, {BLOCKS} GLOW, subnets →{inn_hidden}→, batch {inn_batch}"
            ),
            unit: "step",
            work: Work::Inn {
                hidden: inn_hidden,
                batch: inn_batch,
            },
            units_per_rep: pick(5, 2, 2),
        },
        Case {
            id: "E",
            what: format!("unbiased 3-scale IMQ MMD², n = m = {mmd_n}, d = 8"),
            unit: "estimate",
            work: Work::Mmd { n: mmd_n, d: 8 },
            units_per_rep: 1,
        },
        Case {
            id: "F.sample",
            what: format!("sample {sample_n} points from the flow of A"),
            unit: "call",
            work: Work::Sample {
                n: sample_n,
                hidden: size(128, 8),
            },
            units_per_rep: 1,
        },
        Case {
            id: "F.invert",
            what: format!(
                "i-ResNet inverse, {invert_n} points, 2-D, g 2→{invert_hidden}→{invert_hidden}→2, c 0.9"
            ),
            unit: "call",
            work: Work::Invert {
                n: invert_n,
                dim: 2,
                hidden: invert_hidden,
            },
            units_per_rep: 1,
        },
        Case {
            id: "G",
            what: format!(
                "cINN spectra {cinn_bins} bins → 9, conv1d summary, {BLOCKS} GLOW →{cinn_hidden}→, batch {step_batch}"
            ),
            unit: "step",
            work: Work::CinnConv {
                bins: cinn_bins,
                hidden: cinn_hidden,
                batch: step_batch,
            },
            units_per_rep: pick(20, 8, 2),
        },
        Case {
            id: "H",
            what: format!(
                "MLE flow 2-D, {BLOCKS} RQ spline (8 bins), 1→{spline_hidden}→{spline_hidden}→23, batch {step_batch}"
            ),
            unit: "step",
            work: Work::SplineMle {
                hidden: spline_hidden,
                bins: 8,
                batch: step_batch,
            },
            units_per_rep: pick(20, 8, 2),
        },
    ]
}

/// Forward GEMM flops of the library's default conv1d summary (row G) on `rows` signals of
/// `length` positions, read from `SummaryConfig::conv1d`: one product per convolution over its
/// patches and the dense head.
fn conv_summary_pass(length: usize, rows: usize) -> f64 {
    let config = SummaryConfig::conv1d(length);
    let SummaryKind::Conv1d {
        in_channels,
        channels,
        kernel,
        stride,
        position_channel,
        ..
    } = config.kind
    else {
        return 0.0;
    };
    let (mut len, mut c_in, mut flops) = (length, in_channels + usize::from(position_channel), 0.0);
    for c_out in channels {
        len = conv1d_output_length(len, kernel, stride);
        flops += mlp_flops(rows * len, &[kernel * c_in, c_out]);
        c_in = c_out;
    }
    flops + mlp_flops(rows, &[c_in, config.out_dim])
}

/// Forward GEMM flops of an MLP with layer sizes `sizes` on `rows` rows: `2·rows·Σ sₖ·sₖ₊₁`.
pub fn mlp_flops(rows: usize, sizes: &[usize]) -> f64 {
    2.0 * rows as f64 * sizes.windows(2).map(|w| (w[0] * w[1]) as f64).sum::<f64>()
}

/// Forward GEMM flops of one pass through `BLOCKS` RealNVP blocks (four subnets each).
fn real_nvp_pass(dim: usize, hidden: usize, rows: usize) -> f64 {
    let (d1, d2) = (dim / 2, dim - dim / 2);
    BLOCKS as f64
        * 2.0
        * (mlp_flops(rows, &[d1, hidden, hidden, d2]) + mlp_flops(rows, &[d2, hidden, hidden, d1]))
}

impl Work {
    /// GEMM flops of one timed unit; `iterations` is the fixed-point iteration count of an
    /// inversion (ignored by the other rows).
    pub fn flops(&self, iterations: usize) -> f64 {
        match *self {
            Work::Mle { dim, hidden, batch } => 3.0 * real_nvp_pass(dim, hidden, batch),
            Work::Inn { hidden, batch } => {
                let (d1, d2) = (8, 8);
                let pass = BLOCKS as f64
                    * (mlp_flops(batch, &[d1, hidden, 2 * d2])
                        + mlp_flops(batch, &[d2, hidden, 2 * d1]));
                let gram = |w: usize| 3.0 * 2.0 * (batch * batch * w) as f64;
                3.0 * (3.0 * pass + gram(10) + gram(2))
            }
            Work::Mmd { n, d } => 3.0 * 2.0 * (n * n * d) as f64,
            Work::CinnConv {
                bins,
                hidden,
                batch,
            } => {
                let (d1, d2, c) = (4, 5, SummaryConfig::DEFAULT_CONV1D_OUT_DIM);
                let flow = BLOCKS as f64
                    * (mlp_flops(batch, &[d1 + c, hidden, 2 * d2])
                        + mlp_flops(batch, &[d2 + c, hidden, 2 * d1]));
                3.0 * (conv_summary_pass(bins, batch) + flow)
            }
            Work::SplineMle {
                hidden,
                bins,
                batch,
            } => {
                let per = 3 * bins - 1;
                3.0 * BLOCKS as f64 * 2.0 * mlp_flops(batch, &[1, hidden, hidden, per])
            }
            Work::Sample { n, hidden } => real_nvp_pass(2, hidden, n),
            Work::Invert { n, dim, hidden } => {
                iterations as f64 * mlp_flops(n, &[dim, hidden, hidden, dim])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_a_flops_match_the_hand_count() {
        // 8 blocks · 4 subnets · 2·512·(1·128 + 128·128 + 128·1) forward, times 3.
        let a = &cases(Level::Full)[0];
        let hand = 3.0 * 8.0 * 4.0 * 2.0 * 512.0 * (128.0 + 128.0 * 128.0 + 128.0);
        assert_eq!(a.work.flops(0), hand);
        assert!((hand / 1e9 - 1.636).abs() < 1e-3);
    }

    #[test]
    fn only_f_selects_both_f_rows() {
        let all = cases(Level::Quick);
        let f: Vec<_> = all.iter().filter(|c| c.selected_by("F")).collect();
        assert_eq!(f.len(), 2);
        assert!(all.iter().filter(|c| c.selected_by("b")).count() == 1);
    }
}
