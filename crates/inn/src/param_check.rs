//! A law checker the trainers' tests share: the analytic gradient of a loss with respect to
//! every entry of a parameter store against central differences of an independent evaluation.

use autodiff::Params;
use autodiff::nalgebra::DMatrix;

/// Compares `analytic` (one matrix per parameter, in the store's order) with central
/// differences `(loss_at(θ + h) − loss_at(θ − h)) / 2h`, `h = 1e-6`, for every entry of the
/// parameters whose name `keep` accepts, within `1e-6 + 1e-5·max(|analytic|, |numeric|)`
/// (`autodiff::GradCheckOptions`' defaults). Returns how many entries it compared.
pub(crate) fn assert_param_gradients(
    params: &Params<f64>,
    analytic: &[DMatrix<f64>],
    loss_at: impl Fn(&Params<f64>) -> f64,
    keep: impl Fn(&str) -> bool,
) -> usize {
    let h = 1e-6;
    let mut probe = params.clone();
    let mut compared = 0;
    for (id, name, value) in params.iter().filter(|(_, name, _)| keep(name)) {
        for k in 0..value.len() {
            let orig = value[k];
            probe.get_mut(id)[k] = orig + h;
            let plus = loss_at(&probe);
            probe.get_mut(id)[k] = orig - h;
            let minus = loss_at(&probe);
            probe.get_mut(id)[k] = orig;
            let numeric = (plus - minus) / (2.0 * h);
            let a = analytic[id.index()][k];
            assert!(
                (a - numeric).abs() <= 1e-6 + 1e-5 * a.abs().max(numeric.abs()),
                "{name}[{k}]: analytic {a} vs numeric {numeric}"
            );
            compared += 1;
        }
    }
    compared
}
