//! `fixedpoint`: Banach fixed-point iteration with error bounds, Anderson acceleration,
//! Lipschitz checks, stability analysis, and classic maps (logistic, circle) for figures and
//! tests.
//!
//! For a contraction f (‖f(x) − f(y)‖ ≤ c‖x − y‖, c < 1) the iteration xₙ = f(xₙ₋₁) converges
//! to the unique fixed point x*, with ‖xₙ − x*‖ ≤ c/(1−c)·‖xₙ − xₙ₋₁‖ ≤ cⁿ/(1−c)·‖x₁ − x₀‖.
//!
//! # Quick start
//!
//! ```
//! use fixedpoint::{banach, BanachOptions, LogisticMap};
//! use nalgebra::DVector;
//!
//! // The logistic map at r = 2.8 has the attracting fixed point 1 − 1/r with f' = −0.8.
//! let map = LogisticMap::new(2.8)?;
//! let opts = BanachOptions { tol: 1e-12, ..Default::default() };
//! let sol = banach(|x: &DVector<f64>| x.map(|v| map.apply(v)), &DVector::from_element(1, 0.3), &opts)?;
//! assert!((sol.point[0] - map.fixed_point().unwrap()).abs() < 1e-11);
//!
//! // At r = 3.2 the orbit settles on a 2-cycle, which is reported as an error.
//! let map = LogisticMap::new(3.2)?;
//! let err = banach(|x: &DVector<f64>| x.map(|v| map.apply(v)), &DVector::from_element(1, 0.3), &opts);
//! assert!(matches!(err, Err(fixedpoint::Error::CycleDetected { period: 2, .. })));
//! # Ok::<(), fixedpoint::Error>(())
//! ```
//!
//! Main entry points: [`banach`] / [`banach_batch`] (with [`BanachOptions`], optionally
//! [`Acceleration::Anderson`]), [`iterations_needed`], [`steffensen`], [`spectral_norm`],
//! [`mlp_lipschitz_upper_bound`], [`empirical_lipschitz`], [`is_contraction`],
//! [`numerical_jacobian`], [`stability`], [`cobweb`], [`LogisticMap`], [`CircleMap`].

mod anderson;
mod banach;
mod bounds;
mod check;
mod circle_map;
mod cobweb;
mod cycle;
mod error;
mod jacobian;
mod lipschitz;
mod logistic;
mod norm;
mod scalar;
mod spectral_norm;
mod stability;
mod steffensen;

pub use anderson::AndersonOptions;
pub use banach::{Acceleration, BanachOptions, BanachSolution, History, banach, banach_batch};
pub use bounds::{a_posteriori_bound, a_priori_bound, iterations_needed};
pub use circle_map::{CircleMap, circular_distance, has_fixed_point};
pub use cobweb::{cobweb, orbit};
pub use error::{Divergence, Error, Result};
pub use jacobian::numerical_jacobian;
pub use lipschitz::{
    Contraction, EmpiricalLipschitz, empirical_lipschitz, is_contraction, mlp_lipschitz_upper_bound,
};
pub use logistic::LogisticMap;
pub use norm::Norm;
pub use spectral_norm::{SpectralNorm, SpectralNormOptions, spectral_norm, spectral_norm_exact};
pub use stability::{Stability, stability, stability_of_jacobian};
pub use steffensen::{ScalarFixedPoint, SteffensenOptions, steffensen};
