//! Versioned, checksummed model files: an architecture, its parameters and metadata as JSON.
//!
//! Layout: an envelope `{"format": "inn-model", "version": N, "kind": …, "sha256": …,
//! "payload": "<JSON text>"}`. The payload is kept as text so the checksum covers its exact
//! bytes; it holds the architecture (each model type's serde form), the parameter store and
//! free-form metadata (training summary, standardisation). Loading checks the format name,
//! the version, the kind and the checksum before decoding anything, so a wrong, truncated or
//! edited file is an [`Error::Model`], never a panic or a silently different model.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The format name written in every model file.
pub const FORMAT_NAME: &str = "inn-model";
/// The format version this build writes. Version 2 (the model core) nests each model's own
/// description under `model` and names the scalar type `scalar` and the architecture `flow`
/// for every kind; version-1 files (every release before it) still load.
pub const FORMAT_VERSION: u32 = 2;

/// The format versions this build reads.
pub const READABLE_VERSIONS: [u32; 2] = [1, 2];

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    version: u32,
    kind: String,
    sha256: String,
    payload: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `payload` (any serialisable model) as a model file of the given kind.
pub fn save<P: Serialize>(path: impl AsRef<Path>, kind: &str, payload: &P) -> Result<()> {
    let path = path.as_ref();
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let text = serde_json::to_string(payload).map_err(|e| err(format!("cannot encode: {e}")))?;
    let envelope = Envelope {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        kind: kind.into(),
        sha256: sha256_hex(text.as_bytes()),
        payload: text,
    };
    let bytes = serde_json::to_vec(&envelope).map_err(|e| err(format!("cannot encode: {e}")))?;
    std::fs::write(path, bytes).map_err(|e| err(e.to_string()))
}

/// Reads a model file written by [`save`], checking format, version, kind and checksum.
pub fn load<P: DeserializeOwned>(path: impl AsRef<Path>, kind: &str) -> Result<P> {
    let path = path.as_ref();
    let (_, payload) = read(path, kind)?;
    serde_json::from_str(&payload).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        reason: format!("cannot decode the model: {e}"),
    })
}

/// The format version and the checked payload text of a model file of `kind`: format name,
/// a readable version ([`READABLE_VERSIONS`]), kind and checksum verified.
pub fn read(path: impl AsRef<Path>, kind: &str) -> Result<(u32, String)> {
    let path = path.as_ref();
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let envelope = envelope(path)?;
    if !READABLE_VERSIONS.contains(&envelope.version) {
        return Err(err(format!(
            "format version {}, this build reads versions {READABLE_VERSIONS:?} (a newer \
             release wrote it: load it with that release)",
            envelope.version
        )));
    }
    if envelope.kind != kind {
        return Err(err(format!(
            "holds a {:?} model, expected {kind:?}",
            envelope.kind
        )));
    }
    if sha256_hex(envelope.payload.as_bytes()) != envelope.sha256 {
        return Err(err(
            "checksum mismatch: the file was modified or corrupted".into()
        ));
    }
    Ok((envelope.version, envelope.payload))
}

/// The kind recorded in a model file, without decoding the model (for tools that dispatch on it).
pub fn peek_kind(path: impl AsRef<Path>) -> Result<(String, u32)> {
    let envelope = envelope(path.as_ref())?;
    Ok((envelope.kind, envelope.version))
}

/// A model file's envelope, its format name checked.
fn envelope(path: &Path) -> Result<Envelope> {
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let envelope: Envelope = serde_json::from_slice(&bytes)
        .map_err(|e| err(format!("not an inn model file (truncated or corrupt): {e}")))?;
    if envelope.format != FORMAT_NAME {
        return Err(err(format!(
            "format {:?}, expected {FORMAT_NAME:?}",
            envelope.format
        )));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Toy {
        name: String,
        weights: Vec<f32>,
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("inn-model-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        dir.join(name)
    }

    #[test]
    fn round_trip_is_exact() {
        let path = temp("ok.inn");
        let m = Toy {
            name: "a".into(),
            weights: vec![0.1, -3.5e-8, 1.0e30],
        };
        save(&path, "toy", &m).unwrap();
        assert_eq!(load::<Toy>(&path, "toy").unwrap(), m);
        assert_eq!(
            peek_kind(&path).unwrap(),
            ("toy".to_string(), FORMAT_VERSION)
        );
    }

    #[test]
    fn every_corruption_is_an_error() {
        let path = temp("bad.inn");
        let m = Toy {
            name: "a".into(),
            weights: vec![1.0, 2.0],
        };
        save(&path, "toy", &m).unwrap();
        let good = std::fs::read_to_string(&path).unwrap();
        // Wrong kind.
        assert!(matches!(
            load::<Toy>(&path, "flow"),
            Err(Error::Model { .. })
        ));
        // Every truncation.
        for cut in [0, 1, good.len() / 3, good.len() / 2, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(
                matches!(load::<Toy>(&path, "toy"), Err(Error::Model { .. })),
                "cut {cut}"
            );
        }
        // An edited weight: the checksum catches it.
        std::fs::write(&path, good.replace("2.0", "2.5")).unwrap();
        let e = load::<Toy>(&path, "toy").unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        // Another version.
        let current = format!("\"version\":{FORMAT_VERSION}");
        std::fs::write(&path, good.replace(&current, "\"version\":99")).unwrap();
        let e = load::<Toy>(&path, "toy").unwrap_err().to_string();
        assert!(e.contains("version 99"), "{e}");
        // Another format, binary garbage, a missing file.
        std::fs::write(&path, good.replace(FORMAT_NAME, "other")).unwrap();
        assert!(load::<Toy>(&path, "toy").is_err());
        std::fs::write(&path, [0xff, 0x00, 0x13]).unwrap();
        assert!(load::<Toy>(&path, "toy").is_err());
        assert!(load::<Toy>(temp("missing.inn"), "toy").is_err());
    }
}
