//! The parameter store: named matrices, bound to a tape for each step, saved and loaded with serde.

use crate::{Error, Float, Gradients, Result, Tape, Var, check_finite};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// Handle to one parameter matrix in a [`Params`] store (valid for that store only).
///
/// It serialises as `{"param": index}`, so a model description can be scanned for every
/// parameter it refers to ([`Params::check_ids`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParamId {
    #[serde(rename = "param")]
    index: usize,
}

impl ParamId {
    /// Position of the parameter in its store.
    pub fn index(self) -> usize {
        self.index
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
struct Entry<T: Float> {
    name: String,
    /// Shared with the tapes the store is bound to (no copy per step); copied on write while
    /// a tape still holds it.
    value: Arc<DMatrix<T>>,
}

/// Named trainable matrices. Layers register their weights here and keep [`ParamId`]s;
/// a training step binds the store to a tape ([`Params::bind`]), and an optimizer updates it.
///
/// ```
/// use autodiff::{Params, Tape, nalgebra::DMatrix};
/// let mut params = Params::<f64>::new();
/// let w = params.add("w", DMatrix::from_element(1, 1, 3.0)).unwrap();
/// let tape = Tape::new();
/// let bound = params.bind(&tape);
/// let loss = bound.get(w).square().sum();
/// let mut grads = tape.backward(loss).unwrap();
/// assert_eq!(bound.gradients(&mut grads)[0][(0, 0)], 6.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(bound = "")]
pub struct Params<T: Float> {
    entries: Vec<Entry<T>>,
}

impl<T: Float> Params<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Registers a parameter; names must be unique and values finite.
    pub fn add(&mut self, name: impl Into<String>, value: DMatrix<T>) -> Result<ParamId> {
        let name = name.into();
        if self.id(&name).is_some() {
            return Err(Error::Param(format!(
                "a parameter named {name:?} already exists"
            )));
        }
        check_finite(&name, &value)?;
        self.entries.push(Entry {
            name,
            value: Arc::new(value),
        });
        Ok(ParamId {
            index: self.entries.len() - 1,
        })
    }

    /// The value of a parameter. Panics only for an id from a different store.
    pub fn get(&self, id: ParamId) -> &DMatrix<T> {
        &self.entries[id.index].value
    }

    /// Mutable access to a parameter (data-dependent initialisation, spectral normalisation).
    pub fn get_mut(&mut self, id: ParamId) -> &mut DMatrix<T> {
        Arc::make_mut(&mut self.entries[id.index].value)
    }

    /// The name a parameter was registered under.
    pub fn name(&self, id: ParamId) -> &str {
        &self.entries[id.index].name
    }

    /// Looks a parameter up by name.
    pub fn id(&self, name: &str) -> Option<ParamId> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .map(|index| ParamId { index })
    }

    /// Number of parameter matrices.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total number of scalars over all parameters.
    pub fn n_scalars(&self) -> usize {
        self.entries.iter().map(|e| e.value.len()).sum()
    }

    /// All parameters in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (ParamId, &str, &DMatrix<T>)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(index, e)| (ParamId { index }, e.name.as_str(), &*e.value))
    }

    /// Every parameter's value, mutably, in registration order (optimizers update them).
    pub fn values_mut(&mut self) -> impl ExactSizeIterator<Item = &mut DMatrix<T>> {
        self.entries.iter_mut().map(|e| Arc::make_mut(&mut e.value))
    }

    /// Puts every parameter on `tape` as a leaf (a constant on a no-grad tape).
    pub fn bind<'t>(&self, tape: &'t Tape<T>) -> Bound<'t, T> {
        Bound {
            vars: self
                .entries
                .iter()
                .map(|e| tape.var_shared(Arc::clone(&e.value)))
                .collect(),
        }
    }

    /// Checks that every parameter handle in a serialised model description (any serde
    /// value holding `{"param": index}` objects, as [`ParamId`] writes them) exists in this
    /// store, so a model restored from a file cannot index past the store.
    pub fn check_ids(&self, description: &serde_json::Value) -> Result<()> {
        match description {
            serde_json::Value::Object(map) => {
                if map.len() == 1
                    && let Some(i) = map.get("param").and_then(serde_json::Value::as_u64)
                    && i as usize >= self.len()
                {
                    return Err(Error::Param(format!(
                        "the model refers to parameter {i}, the store holds {}",
                        self.len()
                    )));
                }
                map.values().try_for_each(|v| self.check_ids(v))
            }
            serde_json::Value::Array(items) => items.iter().try_for_each(|v| self.check_ids(v)),
            _ => Ok(()),
        }
    }

    /// Errors on the first parameter holding NaN or ±inf.
    pub fn check_finite(&self) -> Result<()> {
        self.entries
            .iter()
            .try_for_each(|e| check_finite(&e.name, &e.value))
    }

    /// Overwrites every value with `other`'s (same names and shapes required; nothing
    /// changes on error). Used to restore the last good parameters.
    pub fn copy_from(&mut self, other: &Params<T>) -> Result<()> {
        if self.entries.len() != other.entries.len() {
            return Err(Error::Param(format!(
                "store has {} parameters, source has {}",
                self.entries.len(),
                other.entries.len()
            )));
        }
        for (a, b) in self.entries.iter().zip(&other.entries) {
            if a.name != b.name || a.value.shape() != b.value.shape() {
                return Err(Error::Param(format!(
                    "parameter {:?} {:?} does not match {:?} {:?}",
                    a.name,
                    a.value.shape(),
                    b.name,
                    b.value.shape()
                )));
            }
        }
        let pairs = self.entries.iter_mut().zip(&other.entries).map(|(a, b)| {
            (
                Arc::make_mut(&mut a.value).as_mut_slice(),
                b.value.as_slice(),
            )
        });
        crate::par::zip_with(pairs, |a, b| a.copy_from_slice(b));
        Ok(())
    }

    /// The store as JSON text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Io(e.to_string()))
    }

    /// A store from JSON text (errors on malformed text or non-finite values).
    pub fn from_json(text: &str) -> Result<Self> {
        let p: Self = serde_json::from_str(text).map_err(|e| Error::Io(e.to_string()))?;
        p.check_finite()?;
        Ok(p)
    }

    /// Writes the store to a JSON file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()?)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))
    }

    /// Reads a store written by [`Params::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
        Self::from_json(&text)
    }
}

/// A [`Params`] store bound to one tape: one leaf variable per parameter.
pub struct Bound<'t, T: Float> {
    vars: Vec<Var<'t, T>>,
}

impl<'t, T: Float> Bound<'t, T> {
    /// The variable holding a parameter.
    pub fn get(&self, id: ParamId) -> Var<'t, T> {
        self.vars[id.index]
    }

    /// Gradients for every parameter, in store order (zeros for unused ones); moved out of `grads`.
    pub fn gradients(&self, grads: &mut Gradients<T>) -> Vec<DMatrix<T>> {
        self.vars.iter().map(|&v| grads.take(v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_is_exact_and_corrupt_files_are_errors() {
        let mut p = Params::<f32>::new();
        p.add(
            "a",
            DMatrix::from_fn(3, 2, |i, j| (i as f32 + 0.1) / (j as f32 + 3.0)),
        )
        .unwrap();
        p.add("b", DMatrix::from_element(1, 4, -1.25e-7)).unwrap();
        let dir = std::env::temp_dir().join(format!("autodiff-params-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.json");
        p.save(&path).unwrap();
        assert_eq!(Params::<f32>::load(&path).unwrap(), p);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(matches!(Params::<f32>::load(&path), Err(Error::Io(_))));
        assert!(matches!(
            Params::<f32>::load(dir.join("missing.json")),
            Err(Error::Io(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn check_ids_finds_dangling_handles() {
        let mut p = Params::<f64>::new();
        let a = p.add("a", DMatrix::zeros(1, 1)).unwrap();
        let ok = serde_json::json!({"layer": {"w": a, "list": [a]}});
        assert!(p.check_ids(&ok).is_ok());
        let bad = serde_json::json!({"layer": {"w": a, "list": [{"param": 5}]}});
        assert!(matches!(p.check_ids(&bad), Err(Error::Param(_))));
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let mut p = Params::<f64>::new();
        p.add("a", DMatrix::zeros(1, 1)).unwrap();
        assert!(matches!(
            p.add("a", DMatrix::zeros(1, 1)),
            Err(Error::Param(_))
        ));
        let bad = DMatrix::from_row_slice(2, 2, &[0.0, 1.0, f64::INFINITY, 0.0]);
        assert!(matches!(
            p.add("b", bad),
            Err(Error::NonFinite { row: 1, col: 0, .. })
        ));
        let mut other = Params::<f64>::new();
        other.add("a", DMatrix::zeros(2, 1)).unwrap();
        assert!(p.copy_from(&other).is_err());
    }
}
