//! [`Ensemble`]: `M` models of one kind trained with different seeds, used as their uniform
//! mixture — sampling, log-densities, one model file.

use crate::model::Metadata;
use crate::{Error, Model, Network, Result, load_model, model_file};
use autodiff::Float;
use autodiff::nalgebra::DMatrix;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `M ≥ 1` models of one kind and widths (flows, cINNs or INNs), trained with different seeds,
/// used as the uniform mixture `p(x | y) = (1/M) Σₖ pₖ(x | y)` (Lakshminarayanan et al. 2017,
/// "Simple and scalable predictive uncertainty estimation using deep ensembles").
///
/// - Sampling: every draw picks a member uniformly at random and draws from it, so the draws
///   come from the mixture; a member picked `nₖ` times gives `nₖ` draws, placed in the rows
///   that picked it.
/// - Density: `ln p = ln((1/M) Σₖ exp(ln pₖ))`, computed as a log-sum-exp around the largest
///   member log-density of each row, so members whose log-densities are near −1000 (where
///   `exp` underflows to 0) still give the right finite value.
/// - Training ([`Ensemble::train`]) runs the members one after another, member `k` with seed
///   `seed + k`: the training loop already spreads each minibatch over the cores, so running
///   members in parallel would not be faster. An ensemble costs `M×` the training of one model.
/// - Its file ([`Ensemble::save`]) is one checksummed JSON model file of kind `"ensemble"`
///   that holds every member's own model file, checksum included, and the ensemble's own
///   metadata (the command line's column names and standardisation, shared by the members).
/// - It is a [`Model`] itself, so a tool that holds `Box<dyn Model<T>>` (the `inn` command
///   line) uses an ensemble wherever it uses one model; [`crate::load_model`] reads either.
///
/// ```
/// use inn::{Ensemble, Flow, Model};
/// use inn::bijectors::StackConfig;
/// use inn::train::{MaximumLikelihood, MleConfig, OptimConfig};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let data = inn::data::toy::two_moons(500, 0.05, &mut rng)?.cast::<f32>();
/// // Three flows, the k-th trained with seed 7 + k.
/// let ensemble = Ensemble::<f32>::train(3, 7, |seed| {
///     let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
///     let stack = StackConfig::default().with_widths(2, &[16]);
///     let mut flow = Flow::<f32>::coupling_stack(&stack, &mut rng)?;
///     let optim = OptimConfig { steps: 5, progress: false, ..OptimConfig::default() };
///     let config = MleConfig { optim, ..MleConfig::default() };
///     MaximumLikelihood::new(config).fit(&mut flow, &data, &mut rng, None)?;
///     Ok(Box::new(flow) as Box<dyn Model<f32>>)
/// })?;
/// assert_eq!((ensemble.len(), ensemble.member_kind(), ensemble.widths()), (3, "flow", (2, 0)));
/// let draws = ensemble.sample(200, &mut rng)?; // 200 × 2, from the mixture
/// let log_p = ensemble.log_prob(&draws, None)?; // 200 × 1
/// assert!(log_p.iter().all(|v| v.is_finite()));
/// let path = std::env::temp_dir().join(format!("inn-doc-ensemble-{}.inn", std::process::id()));
/// ensemble.save(&path)?;
/// assert_eq!(Ensemble::<f32>::load(&path)?.log_prob(&draws, None)?, log_p);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Ensemble<T: Float> {
    members: Vec<Box<dyn Model<T>>>,
    metadata: Metadata,
}

/// The payload of an ensemble file: the scalar type, the members' kind, each member's own
/// model file (JSON container) as text, and the ensemble's metadata (absent in the files of
/// the release that introduced ensembles).
#[derive(Serialize, Deserialize)]
struct EnsembleFile {
    scalar: String,
    member_kind: String,
    members: Vec<String>,
    #[serde(default)]
    metadata: Metadata,
}

/// Distinguishes the scratch files of concurrent saves and loads in one process.
static SCRATCH: AtomicUsize = AtomicUsize::new(0);

impl<T: Float> Ensemble<T> {
    /// The kind name in model files.
    pub const KIND: &'static str = "ensemble";

    /// An ensemble of `members`, with empty metadata.
    ///
    /// # Errors
    /// No members ([`Error::EmptyEnsemble`]); members of different kinds or widths
    /// ([`Error::Config`] naming the first that differs from member 0); a member that is an
    /// ensemble itself ([`Error::Config`]: its mixture would not weigh the models uniformly).
    pub fn new(members: Vec<Box<dyn Model<T>>>) -> Result<Self> {
        let first = members.first().ok_or(Error::EmptyEnsemble)?;
        let (kind, widths) = (first.kind(), first.widths());
        if let Some(k) = members.iter().position(|m| m.ensemble().is_some()) {
            return Err(Error::Config(format!(
                "ensemble member {k} is an ensemble itself: pass its members instead"
            )));
        }
        if let Some((k, m)) = members
            .iter()
            .enumerate()
            .find(|(_, m)| m.kind() != kind || m.widths() != widths)
        {
            return Err(Error::Config(format!(
                "ensemble member {k} is a {} with widths (x, y) = {:?}; member 0 is a {kind} with \
                 widths {widths:?}",
                m.kind(),
                m.widths()
            )));
        }
        Ok(Self {
            members,
            metadata: Metadata::new(),
        })
    }

    /// Trains `m` members one after another: member `k` is `train_member(seed + k)` (wrapping
    /// on overflow), which builds and fits one model from that seed.
    ///
    /// # Errors
    /// `m == 0` ([`Error::EmptyEnsemble`], before any training); the first error of
    /// `train_member`; members of different kinds or widths ([`Ensemble::new`]).
    pub fn train(
        m: usize,
        seed: u64,
        mut train_member: impl FnMut(u64) -> Result<Box<dyn Model<T>>>,
    ) -> Result<Self> {
        if m == 0 {
            return Err(Error::EmptyEnsemble);
        }
        let members = (0..m as u64)
            .map(|k| train_member(seed.wrapping_add(k)))
            .collect::<Result<Vec<_>>>()?;
        Self::new(members)
    }

    /// The members, in training order.
    pub fn members(&self) -> &[Box<dyn Model<T>>] {
        &self.members
    }

    /// The members, mutably (metadata).
    pub fn members_mut(&mut self) -> &mut [Box<dyn Model<T>>] {
        &mut self.members
    }

    /// The number `M ≥ 1` of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always `false`: an ensemble has at least one member (for clippy's `len` convention).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members' model-file kind (`"flow"`, `"cinn"`, `"inn"`).
    pub fn member_kind(&self) -> &'static str {
        self.members[0].kind()
    }

    /// The members' widths `(x_dim, y_dim)` ([`Model::widths`]).
    pub fn widths(&self) -> (usize, usize) {
        self.members[0].widths()
    }

    /// `ln p(x)` (`y = None`) or `ln p(x | y)` of the mixture per row of `x` (`n × x_dim`,
    /// with `y`: `n × y_dim`) → `n × 1`: the log of the mean member density, by log-sum-exp
    /// (in `f64`).
    ///
    /// # Errors
    /// Members without a density (the bidirectional INN: [`Error::Config`]); the members'
    /// errors for a wrong shape or non-finite input.
    pub fn log_prob(&self, x: &DMatrix<T>, y: Option<&DMatrix<T>>) -> Result<DMatrix<T>> {
        Model::log_density(self, x, y).unwrap_or_else(|| {
            Err(Error::Config(format!(
                "an ensemble of {} models has no tractable density",
                self.member_kind()
            )))
        })
    }

    /// `n` draws from the mixture of unconditional members (`n × x_dim`).
    ///
    /// # Errors
    /// Posterior members ([`Error::Config`]: use [`Ensemble::posterior`]); `n == 0` and the
    /// members' sampling errors.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Result<DMatrix<T>> {
        if n == 0 {
            return Err(Error::Config(
                "ensemble sample: n must be at least 1".into(),
            ));
        }
        self.mix(
            n,
            rng,
            "samples posteriors: pass observations",
            |m, count, rng| m.sample(count, rng),
        )
    }

    /// `n_per_obs` draws from the mixture of the members' posteriors for every row of `y_obs`
    /// (`m × y_dim`): `m` matrices of `n_per_obs × x_dim` ([`crate::PosteriorSampler`]'s law).
    ///
    /// # Errors
    /// Density members ([`Error::Config`]: a flow takes no observations); the members' errors
    /// for a wrong shape, an empty or non-finite `y_obs` or `n_per_obs == 0`.
    pub fn posterior<R: Rng + ?Sized>(
        &self,
        y_obs: &DMatrix<T>,
        n_per_obs: usize,
        rng: &mut R,
    ) -> Result<Vec<DMatrix<T>>> {
        if n_per_obs == 0 {
            return Err(Error::Config(
                "ensemble posterior: n_per_obs must be at least 1".into(),
            ));
        }
        let mut out = Vec::with_capacity(y_obs.nrows());
        for i in 0..y_obs.nrows() {
            let obs = y_obs.rows(i, 1).into_owned();
            out.push(
                self.mix(n_per_obs, rng, "takes no observations", |m, count, rng| {
                    let draws = m.posterior(&obs, count, rng)?;
                    Some(draws.and_then(|mut one| {
                        one.pop()
                            .ok_or_else(|| Error::Config("a member drew no posterior".into()))
                    }))
                })?,
            );
        }
        if let (true, Some(Err(e))) = (
            out.is_empty(),
            self.members[0].posterior(y_obs, n_per_obs, &mut RngAdapter(&mut *rng)),
        ) {
            // The member names what is wrong with an empty batch.
            return Err(e);
        }
        Ok(out)
    }

    /// `n` draws of the uniform mixture: each row's member is picked at random
    /// ([`Ensemble::picks`]), then every member makes its share of the rows with `draw`, which
    /// gives `None` when the member cannot (an error saying it `refusal`).
    fn mix<R: Rng + ?Sized>(
        &self,
        n: usize,
        rng: &mut R,
        refusal: &str,
        mut draw: impl FnMut(&dyn Model<T>, usize, &mut dyn RngCore) -> Option<Result<DMatrix<T>>>,
    ) -> Result<DMatrix<T>> {
        let picks = self.picks(n, rng);
        let mut rng = RngAdapter(rng);
        let draws = self
            .members
            .iter()
            .zip(&picks.counts)
            .map(|(m, &count)| match count {
                0 => Ok(None),
                _ => draw(m.as_ref(), count, &mut rng)
                    .unwrap_or_else(|| {
                        Err(Error::Config(format!(
                            "an ensemble of {} models {refusal}",
                            m.kind()
                        )))
                    })
                    .map(Some),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(picks.assemble(&draws))
    }

    /// For `n` draws, which member each makes (uniformly at random, in row order).
    fn picks<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Picks {
        let member: Vec<usize> = (0..n)
            .map(|_| rng.random_range(0..self.members.len()))
            .collect();
        let mut counts = vec![0; self.members.len()];
        for &k in &member {
            counts[k] += 1;
        }
        Picks { member, counts }
    }

    /// Writes the ensemble as one checksummed JSON model file of kind `"ensemble"` (whatever
    /// the extension) holding every member's own JSON model file.
    ///
    /// # Errors
    /// [`Error::Model`] when a member or the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let members = self
            .members
            .iter()
            .map(|m| {
                let scratch = scratch_path();
                let text = m.save(&scratch).and_then(|()| {
                    std::fs::read_to_string(&scratch).map_err(|e| Error::Model {
                        path: path.to_path_buf(),
                        reason: format!("cannot encode a member: {e}"),
                    })
                });
                let _ = std::fs::remove_file(&scratch);
                text
            })
            .collect::<Result<Vec<_>>>()?;
        let file = EnsembleFile {
            scalar: T::NAME.to_string(),
            member_kind: self.member_kind().to_string(),
            members,
            metadata: self.metadata.clone(),
        };
        model_file::save(path, Self::KIND, &file)
    }

    /// Reads an ensemble written by [`Ensemble::save`]; the scalar type must match the file's.
    ///
    /// # Errors
    /// [`Error::Model`] naming the file: missing, truncated or corrupt (checksums of the file
    /// and of every member), another kind or scalar type, no members, members of different
    /// kinds or widths.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bad = |reason: String| Error::Model {
            path: path.to_path_buf(),
            reason,
        };
        let file: EnsembleFile = model_file::load(path, Self::KIND)?;
        if file.scalar != T::NAME {
            return Err(bad(format!(
                "holds {} parameters, requested {}",
                file.scalar,
                T::NAME
            )));
        }
        let members = file
            .members
            .iter()
            .enumerate()
            .map(|(k, text)| {
                let scratch = scratch_path();
                let member = std::fs::write(&scratch, text)
                    .map_err(|e| bad(format!("member {k}: {e}")))
                    .and_then(|()| {
                        load_model::<T>(&scratch).map_err(|e| bad(format!("member {k}: {e}")))
                    });
                let _ = std::fs::remove_file(&scratch);
                member
            })
            .collect::<Result<Vec<_>>>()?;
        let mut ensemble = Self::new(members).map_err(|e| bad(e.to_string()))?;
        ensemble.metadata = file.metadata;
        if ensemble.member_kind() != file.member_kind {
            return Err(bad(format!(
                "records {:?} members but holds {:?} ones",
                file.member_kind,
                ensemble.member_kind()
            )));
        }
        Ok(ensemble)
    }
}

impl<T: Float> Model<T> for Ensemble<T> {
    fn kind(&self) -> &'static str {
        Self::KIND
    }
    fn network(&self) -> Option<&Network<T>> {
        None
    }
    fn ensemble(&self) -> Option<&Ensemble<T>> {
        Some(self)
    }
    fn metadata(&self) -> &Metadata {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }
    fn n_params(&self) -> usize {
        self.members.iter().map(|m| m.n_params()).sum()
    }
    fn widths(&self) -> (usize, usize) {
        Ensemble::widths(self)
    }
    fn save(&self, path: &Path) -> Result<()> {
        Ensemble::save(self, path)
    }
    /// The mixture's log-density ([`Ensemble::log_prob`]); `None` for members without one.
    fn log_density(&self, x: &DMatrix<T>, y: Option<&DMatrix<T>>) -> Option<Result<DMatrix<T>>> {
        let mut per_member = Vec::with_capacity(self.members.len());
        for m in &self.members {
            match m.log_density(x, y)? {
                Ok(lp) => per_member.push(lp),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(log_mean_exp(&per_member)))
    }
    /// Draws of the mixture ([`Ensemble::sample`]); `None` for posterior members.
    fn sample(&self, n: usize, rng: &mut dyn RngCore) -> Option<Result<DMatrix<T>>> {
        (self.widths().1 == 0).then(|| Ensemble::sample(self, n, rng))
    }
    /// Draws of the mixture of posteriors ([`Ensemble::posterior`]); `None` for density members.
    fn posterior(
        &self,
        y_obs: &DMatrix<T>,
        n_per_obs: usize,
        rng: &mut dyn RngCore,
    ) -> Option<Result<Vec<DMatrix<T>>>> {
        (self.widths().1 > 0).then(|| Ensemble::posterior(self, y_obs, n_per_obs, rng))
    }
    /// The mean of the members' predictions (members that predict `y`: INNs).
    fn predict_y(&self, x: &DMatrix<T>) -> Option<Result<DMatrix<T>>> {
        let mut total: Option<DMatrix<T>> = None;
        for m in &self.members {
            let pred = match m.predict_y(x)? {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            total = Some(match total {
                None => pred,
                Some(t) => t + pred,
            });
        }
        let scale = T::of_f64(1.0 / self.members.len() as f64);
        total.map(|t| Ok(t * scale))
    }
}

/// A fresh scratch path for one member's model file (JSON container).
fn scratch_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "inn-ensemble-member-{}-{}.json",
        std::process::id(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Which member makes each of `n` draws, and how many each makes.
struct Picks {
    member: Vec<usize>,
    counts: Vec<usize>,
}

impl Picks {
    /// The `n` rows: row `i` is the next unused draw of the member that row `i` picked
    /// (`draws[k]` holds member `k`'s `counts[k]` draws, `None` when it made none).
    fn assemble<T: Float>(&self, draws: &[Option<DMatrix<T>>]) -> DMatrix<T> {
        let cols = draws.iter().flatten().next().map_or(0, |d| d.ncols());
        let mut next = vec![0; draws.len()];
        let mut out = DMatrix::zeros(self.member.len(), cols);
        for (i, &k) in self.member.iter().enumerate() {
            if let Some(d) = &draws[k] {
                out.row_mut(i).copy_from(&d.row(next[k]));
                next[k] += 1;
            }
        }
        out
    }
}

/// `ln((1/M) Σₖ exp(aₖ))` elementwise over `M` columns of equal shape, stably: the largest
/// `aₖ` of each entry is factored out (in `f64`). An entry whose members are all `−∞` is `−∞`.
pub(crate) fn log_mean_exp<T: Float>(per_member: &[DMatrix<T>]) -> DMatrix<T> {
    let shape = per_member[0].shape();
    let ln_m = (per_member.len() as f64).ln();
    DMatrix::from_fn(shape.0, shape.1, |i, j| {
        let top = per_member
            .iter()
            .map(|a| a[(i, j)].to_f64())
            .fold(f64::NEG_INFINITY, f64::max);
        if !top.is_finite() {
            return T::of_f64(top);
        }
        let sum: f64 = per_member
            .iter()
            .map(|a| (a[(i, j)].to_f64() - top).exp())
            .sum();
        T::of_f64(top + sum.ln() - ln_m)
    })
}

/// A `&mut R` for any `R: Rng + ?Sized` as a sized [`RngCore`] (the members take
/// `&mut dyn RngCore`).
struct RngAdapter<'a, R: ?Sized>(&'a mut R);

impl<R: RngCore + ?Sized> RngCore for RngAdapter<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flow;
    use crate::train::{CinnConfig, ConditionalInn, paper_stack};
    use bijectors::StackConfig;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// A stand-in member whose draws are all `value` and whose log-density is `value` everywhere,
    /// so that tests can tell members apart and choose their densities.
    #[derive(Debug)]
    struct Constant {
        flow: Flow<f64>,
        value: f64,
    }

    impl Model<f64> for Constant {
        fn kind(&self) -> &'static str {
            "flow"
        }
        fn network(&self) -> Option<&Network<f64>> {
            Some(&self.flow)
        }
        fn metadata(&self) -> &Metadata {
            self.flow.metadata()
        }
        fn metadata_mut(&mut self) -> &mut Metadata {
            self.flow.metadata_mut()
        }
        fn n_params(&self) -> usize {
            self.flow.params().n_scalars()
        }
        fn widths(&self) -> (usize, usize) {
            (2, 0)
        }
        fn save(&self, _: &Path) -> Result<()> {
            Err(Error::Config("a test stand-in has no file".into()))
        }
        fn log_density(
            &self,
            x: &DMatrix<f64>,
            _: Option<&DMatrix<f64>>,
        ) -> Option<Result<DMatrix<f64>>> {
            Some(Ok(DMatrix::from_element(x.nrows(), 1, self.value)))
        }
        fn sample(&self, n: usize, _: &mut dyn RngCore) -> Option<Result<DMatrix<f64>>> {
            Some(Ok(DMatrix::from_element(n, 2, self.value)))
        }
    }

    fn constant(value: f64) -> Box<dyn Model<f64>> {
        let mut rng = StdRng::seed_from_u64(0);
        let stack = StackConfig::default().with_widths(1, &[4]);
        let flow = Flow::coupling_stack(&stack, &mut rng).unwrap();
        Box::new(Constant { flow, value })
    }

    /// Fresh flows over 2 columns, member `k` initialised from seed `seed + k`.
    fn flows(m: usize, seed: u64) -> Result<Ensemble<f64>> {
        Ensemble::train(m, seed, |s| {
            let stack = StackConfig::default().with_widths(2, &[8]);
            let flow = Flow::<f64>::coupling_stack(&stack, &mut StdRng::seed_from_u64(s))?;
            Ok(Box::new(flow) as Box<dyn Model<f64>>)
        })
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("inn-ensemble-test-{}-{name}", std::process::id()))
    }

    #[test]
    fn log_prob_is_the_log_of_the_mean_member_density() {
        let ensemble = flows(3, 11).unwrap();
        let x = crate::posterior::standard_normal::<f64, _>(50, 2, &mut StdRng::seed_from_u64(1));
        let mixture = ensemble.log_prob(&x, None).unwrap();
        let members: Vec<DMatrix<f64>> = ensemble
            .members()
            .iter()
            .map(|m| m.log_density(&x, None).unwrap().unwrap())
            .collect();
        assert_ne!(
            members[0], members[1],
            "different seeds give different members"
        );
        for i in 0..x.nrows() {
            // Direct formula: these log-densities are moderate, so exp does not underflow.
            let mean = members.iter().map(|a| a[(i, 0)].exp()).sum::<f64>() / 3.0;
            assert!((mixture[(i, 0)] - mean.ln()).abs() < 1e-12, "row {i}");
        }
    }

    #[test]
    fn log_prob_is_stable_for_tiny_member_densities() {
        let ensemble = Ensemble::new(vec![constant(-1000.0), constant(-1001.0)]).unwrap();
        let log_p = ensemble.log_prob(&DMatrix::zeros(4, 2), None).unwrap();
        // ln((e^-1000 + e^-1001) / 2) = -1000 + ln(1 + e^-1) - ln 2, where exp(-1000) is 0 in f64.
        let expected = -1000.0 + (1.0 + (-1.0f64).exp()).ln() - 2.0f64.ln();
        assert_eq!((-1000.0f64).exp(), 0.0);
        for v in log_p.iter() {
            assert!((v - expected).abs() < 1e-12, "{v} vs {expected}");
        }
        let all_neg_inf = log_mean_exp(&vec![DMatrix::from_element(1, 1, f64::NEG_INFINITY); 2]);
        assert_eq!(all_neg_inf[(0, 0)], f64::NEG_INFINITY);
    }

    #[test]
    fn sampling_picks_each_member_uniformly() {
        let ensemble = Ensemble::new(vec![constant(0.0), constant(1.0)]).unwrap();
        let n = 10_000;
        let draws = ensemble.sample(n, &mut StdRng::seed_from_u64(5)).unwrap();
        assert_eq!(draws.shape(), (n, 2));
        for row in draws.row_iter() {
            assert!(
                row[0] == row[1] && (row[0] == 0.0 || row[0] == 1.0),
                "{row}"
            );
        }
        // Binomial(n, 1/2): mean n/2, sd √n/2 = 50; 6 sd cannot flake.
        let ones = draws.column(0).iter().filter(|v| **v == 1.0).count() as f64;
        let sd = (n as f64).sqrt() / 2.0;
        assert!((ones - n as f64 / 2.0).abs() < 6.0 * sd, "{ones} of {n}");
        assert!(ensemble.sample(0, &mut StdRng::seed_from_u64(5)).is_err());
    }

    #[test]
    fn no_members_and_mismatched_members_are_errors() {
        assert!(matches!(
            Ensemble::<f64>::new(Vec::new()),
            Err(Error::EmptyEnsemble)
        ));
        let mut called = false;
        let none = Ensemble::<f64>::train(0, 0, |_| {
            called = true;
            Err(Error::Config("not reached".into()))
        });
        assert!(matches!(none, Err(Error::EmptyEnsemble)) && !called);
        let mut rng = StdRng::seed_from_u64(2);
        let two =
            Flow::<f64>::coupling_stack(&StackConfig::default().with_widths(1, &[4]), &mut rng);
        let three = Flow::<f64>::coupling_stack(
            &StackConfig {
                dim: 3,
                ..StackConfig::default().with_widths(1, &[4])
            },
            &mut rng,
        );
        let mixed = Ensemble::new(vec![Box::new(two.unwrap()), Box::new(three.unwrap())]);
        assert!(matches!(mixed, Err(Error::Config(m)) if m.contains("member 1")));
    }

    /// As a [`Model`]: `load_model` reads an ensemble file, its metadata survives the file, the
    /// trait's operations are the ensemble's own, an INN ensemble predicts the members' mean
    /// and has no density, and an ensemble cannot be a member.
    #[test]
    fn an_ensemble_is_a_model() {
        let mut ensemble = flows(2, 8).unwrap();
        ensemble
            .metadata_mut()
            .insert("cli".into(), serde_json::json!({"x_names": ["a", "b"]}));
        let path = scratch("as-model.inn");
        Model::save(&ensemble, &path).unwrap();
        let any = load_model::<f64>(&path).unwrap();
        assert_eq!((any.kind(), any.widths()), ("ensemble", (2, 0)));
        assert!(any.network().is_none());
        assert_eq!(any.ensemble().map(Ensemble::len), Some(2));
        assert_eq!(any.metadata(), ensemble.metadata());
        assert_eq!(
            any.n_params(),
            2 * ensemble.members()[0]
                .network()
                .unwrap()
                .params()
                .n_scalars()
        );
        let x = crate::posterior::standard_normal::<f64, _>(10, 2, &mut StdRng::seed_from_u64(1));
        assert_eq!(
            any.log_density(&x, None).unwrap().unwrap(),
            ensemble.log_prob(&x, None).unwrap()
        );
        let seeded = || StdRng::seed_from_u64(3);
        assert_eq!(
            any.sample(7, &mut seeded()).unwrap().unwrap(),
            ensemble.sample(7, &mut seeded()).unwrap()
        );
        assert!(
            any.posterior(&DMatrix::zeros(1, 1), 3, &mut seeded())
                .is_none()
        );
        assert!(any.predict_y(&x).is_none());

        let config = crate::train::InnConfig {
            stack: paper_stack().with_widths(2, &[8]),
            n_tot: 4,
            ..crate::train::InnConfig::default()
        };
        let inns = Ensemble::<f64>::train(2, 1, |s| {
            let model =
                crate::train::Inn::new(config.clone(), 2, 1, 1, &mut StdRng::seed_from_u64(s))?;
            Ok(Box::new(model) as Box<dyn Model<f64>>)
        })
        .unwrap();
        let preds: Vec<DMatrix<f64>> = inns
            .members()
            .iter()
            .map(|m| m.predict_y(&x).unwrap().unwrap())
            .collect();
        let mean = Model::predict_y(&inns, &x).unwrap().unwrap();
        assert_ne!(preds[0], preds[1]);
        assert!((mean - (&preds[0] + &preds[1]) * 0.5).abs().max() < 1e-12);
        assert!(Model::log_density(&inns, &x, Some(&DMatrix::zeros(10, 1))).is_none());
        assert!(matches!(inns.log_prob(&x, None), Err(Error::Config(_))));
        assert!(Model::posterior(&inns, &DMatrix::zeros(2, 1), 4, &mut seeded()).is_some());

        let nested = Ensemble::new(vec![any, Box::new(flows(1, 0).unwrap())]);
        assert!(matches!(nested, Err(Error::Config(m)) if m.contains("ensemble itself")));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_saved_ensemble_loads_back_the_same() {
        let ensemble = flows(2, 3).unwrap();
        let path = scratch("flows.inn");
        ensemble.save(&path).unwrap();
        let back = Ensemble::<f64>::load(&path).unwrap();
        assert_eq!((back.len(), back.member_kind()), (2, "flow"));
        let x = crate::posterior::standard_normal::<f64, _>(20, 2, &mut StdRng::seed_from_u64(1));
        assert_eq!(
            back.log_prob(&x, None).unwrap(),
            ensemble.log_prob(&x, None).unwrap()
        );
        let seeded = || StdRng::seed_from_u64(9);
        assert_eq!(
            back.sample(30, &mut seeded()).unwrap(),
            ensemble.sample(30, &mut seeded()).unwrap()
        );
        assert!(matches!(
            Ensemble::<f32>::load(&path),
            Err(Error::Model { .. })
        ));

        // A cINN ensemble: posteriors and densities survive the file.
        let config = CinnConfig {
            stack: paper_stack().with_widths(2, &[8]),
            ..CinnConfig::default()
        };
        let cinns = Ensemble::<f64>::train(2, 4, |s| {
            let model = ConditionalInn::new(config.clone(), 2, 1, &mut StdRng::seed_from_u64(s))?;
            Ok(Box::new(model) as Box<dyn Model<f64>>)
        })
        .unwrap();
        let cinn_path = scratch("cinns.json");
        cinns.save(&cinn_path).unwrap();
        let back = Ensemble::<f64>::load(&cinn_path).unwrap();
        let y = DMatrix::from_fn(20, 1, |i, _| i as f64 / 10.0);
        assert_eq!(
            back.log_prob(&x, Some(&y)).unwrap(),
            cinns.log_prob(&x, Some(&y)).unwrap()
        );
        let obs = y.rows(0, 3).into_owned();
        let post = cinns.posterior(&obs, 40, &mut seeded()).unwrap();
        assert_eq!(post, back.posterior(&obs, 40, &mut seeded()).unwrap());
        assert_eq!((post.len(), post[0].shape()), (3, (40, 2)));
        assert!(
            cinns.sample(5, &mut seeded()).is_err(),
            "a cINN takes observations"
        );
        assert!(
            ensemble.posterior(&obs, 5, &mut seeded()).is_err(),
            "a flow takes none"
        );

        // Members of different widths in one file are refused on load.
        let flow_file: serde_json::Value = model_file::load(&path, "ensemble").unwrap();
        let mut mixed: serde_json::Value = model_file::load(&cinn_path, "ensemble").unwrap();
        mixed["members"][1] = flow_file["members"][0].clone();
        let mixed_path = scratch("mixed.inn");
        model_file::save(&mixed_path, "ensemble", &mixed).unwrap();
        assert!(matches!(
            Ensemble::<f64>::load(&mixed_path),
            Err(Error::Model { .. })
        ));

        // A truncated file is an error, not a panic.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(
            Ensemble::<f64>::load(&path),
            Err(Error::Model { .. })
        ));
        for p in [path, cinn_path, mixed_path] {
            let _ = std::fs::remove_file(p);
        }
    }
}
