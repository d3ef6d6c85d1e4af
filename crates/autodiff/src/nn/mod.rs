//! Neural-network layers on batches: [`Linear`], [`Mlp`], activations and initialisers.

mod activation;
mod linear;
mod mlp;

pub use activation::Activation;
pub use linear::{Init, Linear};
pub use mlp::{Mlp, MlpConfig};
