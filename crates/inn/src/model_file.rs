//! Versioned, checksummed model files: an architecture, its parameters and metadata, in one of
//! two containers.
//!
//! - **safetensors** (format version 3, what [`crate::Network`] writes unless the path ends in
//!   `.json`): the parameters are tensors of a [safetensors](https://huggingface.co/docs/safetensors)
//!   file (f32 or f64, little-endian, row-major, named as in the parameter store), so Python reads
//!   them with `safetensors.numpy.load_file`; the file's metadata header holds `format`,
//!   `version`, `kind`, the caller's text entries (architecture, columns, standardisation,
//!   training report, as JSON text) and two SHA-256 checksums: `tensors_sha256` over the tensor
//!   bytes (everything after the header) and `header_sha256` over the other header entries.
//! - **JSON** (format versions 1 and 2): an envelope `{"format": "inn-model", "version": N,
//!   "kind": …, "sha256": …, "payload": "<JSON text>"}`. The payload is kept as text so the
//!   checksum covers its exact bytes. Written for paths ending in `.json` (version 2); every
//!   earlier release wrote this container.
//!
//! Reading recognises the container by its first bytes, whatever the extension. Loading checks
//! the format name, the version, the kind and the checksums before decoding anything, so a
//! wrong, truncated or edited file is an [`Error::Model`], never a panic or a silently
//! different model.

use crate::{Error, Result};
use safetensors::tensor::{Dtype, Metadata, SafeTensors, TensorInfo, TensorView};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

/// The format name written in every model file.
pub const FORMAT_NAME: &str = "inn-model";
/// The format version this build writes by default: 3, a safetensors file. Version 2 (the
/// model core) nests each model's own description under `model` and names the scalar type
/// `scalar` and the architecture `flow` for every kind; version 3 keeps that layout and moves
/// the parameters into safetensors tensors. Version-1 and version-2 JSON files still load.
pub const FORMAT_VERSION: u32 = 3;

/// The format version of the JSON files this build writes (paths ending in `.json`).
pub const JSON_FORMAT_VERSION: u32 = 2;

/// The format versions this build reads.
pub const READABLE_VERSIONS: [u32; 3] = [1, 2, 3];

/// The header entries a safetensors model file reserves for itself.
const RESERVED_KEYS: [&str; 5] = [
    "format",
    "version",
    "kind",
    "tensors_sha256",
    "header_sha256",
];

/// The container a path asks for: safetensors unless the extension is `.json`
/// (case-insensitive).
pub fn writes_json(path: impl AsRef<Path>) -> bool {
    path.as_ref()
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The values of one tensor, row-major (C order), in its stored precision.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// Single precision.
    F32(Vec<f32>),
    /// Double precision.
    F64(Vec<f64>),
}

impl TensorData {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The scalar type's name (`f32`, `f64`), as in [`autodiff::Float::NAME`].
    pub fn scalar(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "f32",
            TensorData::F64(_) => "f64",
        }
    }

    fn dtype(&self) -> Dtype {
        match self {
            TensorData::F32(_) => Dtype::F32,
            TensorData::F64(_) => Dtype::F64,
        }
    }

    fn le_bytes(&self) -> Vec<u8> {
        match self {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// One named tensor of a safetensors model file: `shape` (row-major) and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// The shape, outermost dimension first (a matrix is `[rows, columns]`).
    pub shape: Vec<usize>,
    /// The values in row-major order (`shape`'s product of them).
    pub data: TensorData,
}

/// A safetensors model file read back and checked: its format version, its header entries
/// (without the reserved ones: format, version, kind, checksums) and its tensors by name.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorFile {
    /// The format version.
    pub version: u32,
    /// The caller's header entries, as saved by [`save_tensors`].
    pub header: BTreeMap<String, String>,
    /// The tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
}

/// A model file's checked contents, in the container it was written in.
#[derive(Clone, Debug, PartialEq)]
pub enum Contents {
    /// A JSON envelope: its format version and payload text.
    Json {
        /// The format version (1 or 2).
        version: u32,
        /// The payload text, as covered by the checksum.
        payload: String,
    },
    /// A safetensors file.
    Tensors(TensorFile),
}

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

/// Writes `payload` (any serialisable model) as a JSON model file (format version
/// [`JSON_FORMAT_VERSION`]) of the given kind.
pub fn save<P: Serialize>(path: impl AsRef<Path>, kind: &str, payload: &P) -> Result<()> {
    let path = path.as_ref();
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let text = serde_json::to_string(payload).map_err(|e| err(format!("cannot encode: {e}")))?;
    let envelope = Envelope {
        format: FORMAT_NAME.into(),
        version: JSON_FORMAT_VERSION,
        kind: kind.into(),
        sha256: sha256_hex(text.as_bytes()),
        payload: text,
    };
    let bytes = serde_json::to_vec(&envelope).map_err(|e| err(format!("cannot encode: {e}")))?;
    std::fs::write(path, bytes).map_err(|e| err(e.to_string()))
}

/// Reads a JSON model file written by [`save`], checking format, version, kind and checksum.
pub fn load<P: DeserializeOwned>(path: impl AsRef<Path>, kind: &str) -> Result<P> {
    let path = path.as_ref();
    let (_, payload) = read(path, kind)?;
    serde_json::from_str(&payload).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        reason: format!("cannot decode the model: {e}"),
    })
}

/// The format version and the checked payload text of a JSON model file of `kind`: format
/// name, a readable version ([`READABLE_VERSIONS`]), kind and checksum verified.
pub fn read(path: impl AsRef<Path>, kind: &str) -> Result<(u32, String)> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    read_json(path, &bytes, kind)
}

/// [`read`] on the file's bytes.
fn read_json(path: &Path, bytes: &[u8], kind: &str) -> Result<(u32, String)> {
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let envelope = envelope(path, bytes)?;
    if !READABLE_VERSIONS.contains(&envelope.version) || envelope.version >= 3 {
        return Err(err(version_message(envelope.version)));
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

/// The kind and format version recorded in a model file of either container, without
/// decoding the model or checking its checksums (for tools that dispatch on it); a
/// safetensors file's tensors are not read.
pub fn peek_kind(path: impl AsRef<Path>) -> Result<(String, u32)> {
    let path = path.as_ref();
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let len = file.metadata().map_err(|e| err(e.to_string()))?.len();
    let mut prefix = [0u8; 9];
    let got = read_up_to(&mut file, &mut prefix).map_err(|e| err(e.to_string()))?;
    match safetensors_header_len(&prefix[..got], len) {
        Some(n) => {
            // The header alone: its length is bounded by the file's, checked above.
            let mut bytes = prefix[..got].to_vec();
            bytes.resize(8 + n, 0);
            file.read_exact(&mut bytes[got..])
                .map_err(|e| err(format!("not an inn model file (truncated or corrupt): {e}")))?;
            let header = header_entries(path, &bytes[8..])?;
            let (version, kind) = check_header_identity(path, &header)?;
            Ok((kind, version))
        }
        None => {
            let mut bytes = prefix[..got].to_vec();
            file.read_to_end(&mut bytes)
                .map_err(|e| err(e.to_string()))?;
            let envelope = envelope(path, &bytes)?;
            Ok((envelope.kind, envelope.version))
        }
    }
}

/// Reads into `buf` until it is full or the reader ends; the number of bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    Ok(got)
}

/// The whole file, or an [`Error::Model`] naming it.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The "this build cannot read that version" message.
fn version_message(version: u32) -> String {
    format!(
        "format version {version}, this build reads versions {READABLE_VERSIONS:?} (a newer \
         release wrote it: load it with that release)"
    )
}

/// A model file's envelope, its format name checked.
fn envelope(path: &Path, bytes: &[u8]) -> Result<Envelope> {
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| err(format!("not an inn model file (truncated or corrupt): {e}")))?;
    if envelope.format != FORMAT_NAME {
        return Err(err(format!(
            "format {:?}, expected {FORMAT_NAME:?}",
            envelope.format
        )));
    }
    Ok(envelope)
}

/// The length of the JSON header of a safetensors file starting with `prefix` (at least its
/// first 9 bytes) in a file of `file_len` bytes, or `None` when it is not one: the first 8 bytes
/// are the header length (little-endian), which must fit in the file, and the header starts
/// with `{`. A JSON envelope starts with 8 printable characters, a "length" far beyond any
/// file, so the two containers cannot be confused.
fn safetensors_header_len(prefix: &[u8], file_len: u64) -> Option<usize> {
    let first: [u8; 8] = prefix.get(..8)?.try_into().ok()?;
    let n = u64::from_le_bytes(first);
    // The header is a JSON object, so at least `{}`.
    (prefix.get(8) == Some(&b'{') && (2..=file_len.saturating_sub(8)).contains(&n))
        .then(|| usize::try_from(n).ok())
        .flatten()
}

/// The header checksum: the text entries and the tensor table (each tensor's dtype, shape and
/// byte range), so that no edit of the header changes what loads.
fn header_sha256(entries: &BTreeMap<String, String>, layout: &Metadata) -> Result<String> {
    let table: BTreeMap<String, &TensorInfo> = layout.tensors().into_iter().collect();
    let text = serde_json::to_string(&(entries, table))
        .map_err(|e| Error::Config(format!("cannot encode the header: {e}")))?;
    Ok(sha256_hex(text.as_bytes()))
}

/// Writes `tensors` and the text entries `header` (architecture, metadata, … as the caller
/// encodes them) as a safetensors model file of `kind`, format version [`FORMAT_VERSION`],
/// with the checksums of the tensor bytes and of the header entries.
///
/// # Errors
/// A header key the format reserves (`format`, `version`, `kind`, `tensors_sha256`,
/// `header_sha256`), a tensor whose values do not fill its shape, an unwritable file.
pub fn save_tensors(
    path: impl AsRef<Path>,
    kind: &str,
    header: &BTreeMap<String, String>,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<()> {
    let path = path.as_ref();
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(key) = RESERVED_KEYS.iter().find(|k| header.contains_key(**k)) {
        return Err(err(format!("header entry {key:?} is reserved")));
    }
    let bytes: Vec<(&String, Vec<u8>, &Tensor)> = tensors
        .iter()
        .map(|(name, t)| (name, t.data.le_bytes(), t))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, b, t)| {
            TensorView::new(t.data.dtype(), t.shape.clone(), b)
                .map(|v| (name.as_str(), v))
                .map_err(|e| err(format!("tensor {name:?}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut entries = header.clone();
    entries.insert("format".into(), FORMAT_NAME.into());
    entries.insert("version".into(), FORMAT_VERSION.to_string());
    entries.insert("kind".into(), kind.into());
    // The tensor bytes' layout does not depend on the header's contents: serialise once to
    // learn their checksum, then again with it.
    let encode = |meta: &BTreeMap<String, String>| {
        safetensors::serialize(
            views.iter().cloned(),
            Some(meta.clone().into_iter().collect::<HashMap<_, _>>()),
        )
        .map_err(|e| err(format!("cannot encode: {e}")))
    };
    let draft = encode(&entries)?;
    let (n, layout) =
        SafeTensors::read_metadata(&draft).map_err(|e| err(format!("cannot encode: {e}")))?;
    let header_sha = header_sha256(&entries, &layout)?;
    entries.insert("tensors_sha256".into(), sha256_hex(&draft[8 + n..]));
    entries.insert("header_sha256".into(), header_sha);
    let file = encode(&entries)?;
    std::fs::write(path, file).map_err(|e| err(e.to_string()))
}

/// The metadata entries of a safetensors header (the JSON text after the length).
fn header_entries(path: &Path, header: &[u8]) -> Result<BTreeMap<String, String>> {
    #[derive(Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__")]
        metadata: Option<BTreeMap<String, String>>,
    }
    let parsed: Header = serde_json::from_slice(header).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        reason: format!("not an inn model file (truncated or corrupt safetensors header): {e}"),
    })?;
    parsed.metadata.ok_or_else(|| Error::Model {
        path: path.to_path_buf(),
        reason: "a safetensors file without inn metadata (not an inn model file)".into(),
    })
}

/// The format name and a readable version of a safetensors header; its version and kind.
fn check_header_identity(path: &Path, entries: &BTreeMap<String, String>) -> Result<(u32, String)> {
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let get = |key: &str| {
        entries.get(key).ok_or_else(|| {
            err(format!(
                "no {key:?} entry in the safetensors header (not an inn model file)"
            ))
        })
    };
    let format = get("format")?;
    if format != FORMAT_NAME {
        return Err(err(format!("format {format:?}, expected {FORMAT_NAME:?}")));
    }
    let version_text = get("version")?;
    let version: u32 = version_text
        .parse()
        .map_err(|_| err(format!("format version {version_text:?} is not a number")))?;
    if version != FORMAT_VERSION {
        return Err(err(version_message(version)));
    }
    Ok((version, get("kind")?.clone()))
}

/// Reads a safetensors model file written by [`save_tensors`] for `kind`: format name,
/// version, kind, both checksums and every tensor's dtype (f32 or f64) checked.
///
/// # Errors
/// [`Error::Model`] naming the file and what is wrong with it.
pub fn read_tensors(path: impl AsRef<Path>, kind: &str) -> Result<TensorFile> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    read_tensor_bytes(path, &bytes, kind)
}

/// [`read_tensors`] on the file's bytes.
fn read_tensor_bytes(path: &Path, bytes: &[u8], kind: &str) -> Result<TensorFile> {
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let corrupt = |e: safetensors::SafeTensorError| {
        err(format!(
            "not an inn model file (truncated or corrupt safetensors): {e}"
        ))
    };
    let (n, layout) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    let mut entries = header_entries(path, &bytes[8..8 + n])?;
    let (version, file_kind) = check_header_identity(path, &entries)?;
    if file_kind != kind {
        return Err(err(format!(
            "holds a {file_kind:?} model, expected {kind:?}"
        )));
    }
    let mismatch = |what: &str| {
        err(format!(
            "checksum mismatch in the {what}: the file was modified or corrupted"
        ))
    };
    let tensors_sha = entries
        .remove("tensors_sha256")
        .ok_or_else(|| err("no \"tensors_sha256\" entry in the safetensors header".into()))?;
    let header_sha = entries
        .remove("header_sha256")
        .ok_or_else(|| err("no \"header_sha256\" entry in the safetensors header".into()))?;
    if sha256_hex(&bytes[8 + n..]) != tensors_sha {
        return Err(mismatch("tensors"));
    }
    if header_sha256(&entries, &layout)? != header_sha {
        return Err(mismatch("header"));
    }
    let file = SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        let raw = view.data();
        let data = match view.dtype() {
            Dtype::F32 => TensorData::F32(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Dtype::F64 => TensorData::F64(
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect(),
            ),
            other => {
                return Err(err(format!(
                    "tensor {name:?} has dtype {other:?}; model files hold F32 or F64"
                )));
            }
        };
        let shape = view.shape().to_vec();
        tensors.insert(name, Tensor { shape, data });
    }
    for key in ["format", "version", "kind"] {
        entries.remove(key);
    }
    Ok(TensorFile {
        version,
        header: entries,
        tensors,
    })
}

/// Reads a model file of `kind` in either container (recognised by its first bytes), with
/// every check of [`read`] or [`read_tensors`].
///
/// # Errors
/// [`Error::Model`] naming the file and what is wrong with it.
pub fn read_any(path: impl AsRef<Path>, kind: &str) -> Result<Contents> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    if safetensors_header_len(&bytes, bytes.len() as u64).is_some() {
        read_tensor_bytes(path, &bytes, kind).map(Contents::Tensors)
    } else {
        read_json(path, &bytes, kind).map(|(version, payload)| Contents::Json { version, payload })
    }
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

    fn toy_tensors() -> (BTreeMap<String, String>, BTreeMap<String, Tensor>) {
        let header = BTreeMap::from([("note".to_string(), "hello".to_string())]);
        let tensors = BTreeMap::from([
            (
                "w".to_string(),
                Tensor {
                    shape: vec![2, 3],
                    data: TensorData::F32(vec![0.1, -3.5e-8, 1.0e30, 4.0, 5.0, -6.25]),
                },
            ),
            (
                "b".to_string(),
                Tensor {
                    shape: vec![1, 2],
                    data: TensorData::F64(vec![std::f64::consts::PI, -0.0]),
                },
            ),
        ]);
        (header, tensors)
    }

    #[test]
    fn tensor_files_round_trip_exactly_and_are_told_from_json_ones() {
        let (header, tensors) = toy_tensors();
        let path = temp("ok.safetensors");
        save_tensors(&path, "toy", &header, &tensors).unwrap();
        let back = read_tensors(&path, "toy").unwrap();
        assert_eq!(back.version, FORMAT_VERSION);
        assert_eq!(back.header, header);
        assert_eq!(back.tensors, tensors);
        assert_eq!(read_any(&path, "toy").unwrap(), Contents::Tensors(back));
        assert_eq!(peek_kind(&path).unwrap(), ("toy".into(), FORMAT_VERSION));
        let json = temp("ok.json");
        save(&json, "toy", &"payload").unwrap();
        assert!(matches!(
            read_any(&json, "toy").unwrap(),
            Contents::Json { version: 2, .. }
        ));
        assert!(writes_json("a/b.JSON") && !writes_json("m.inn") && !writes_json("m.safetensors"));
        let reserved = BTreeMap::from([("version".to_string(), "7".to_string())]);
        let e = save_tensors(&path, "toy", &reserved, &tensors).unwrap_err();
        assert!(e.to_string().contains("reserved"), "{e}");
    }

    /// Truncation, a flipped tensor byte, an edited header (an entry, a tensor's shape), another
    /// version or kind: each an error saying what is wrong.
    #[test]
    fn every_corruption_of_a_tensor_file_is_an_error() {
        let (header, tensors) = toy_tensors();
        let path = temp("bad.safetensors");
        save_tensors(&path, "toy", &header, &tensors).unwrap();
        let good = std::fs::read(&path).unwrap();
        let load = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            read_any(&path, "toy").unwrap_err().to_string()
        };
        for cut in [0, 5, 9, good.len() / 2, good.len() - 1] {
            let e = load(&good[..cut]);
            assert!(e.contains("truncated or corrupt"), "cut {cut}: {e}");
        }
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x01;
        assert!(load(&flipped).contains("checksum mismatch in the tensors"));
        let edit = |from: &str, to: &str| {
            let text = String::from_utf8_lossy(&good).into_owned();
            assert!(text.contains(from), "{from}");
            let at = text.find(from).unwrap();
            let mut bytes = good.clone();
            bytes[at..at + from.len()].copy_from_slice(to.as_bytes());
            bytes
        };
        let e = load(&edit("hello", "hallo"));
        assert!(e.contains("checksum mismatch in the header"), "{e}");
        let e = load(&edit("[2,3]", "[3,2]"));
        assert!(e.contains("checksum mismatch in the header"), "{e}");
        let e = load(&edit("\"version\":\"3\"", "\"version\":\"9\""));
        assert!(
            e.contains("format version 9") && e.contains("[1, 2, 3]"),
            "{e}"
        );
        // Headers too short to be one: errors from both readers.
        for header in [
            &b"\x00\x00\x00\x00\x00\x00\x00\x00{"[..],
            b"\x01\x00\x00\x00\x00\x00\x00\x00{",
        ] {
            std::fs::write(&path, header).unwrap();
            assert!(peek_kind(&path).is_err() && read_any(&path, "toy").is_err());
        }
        std::fs::write(&path, &good).unwrap();
        let e = read_any(&path, "flow").unwrap_err().to_string();
        assert!(e.contains("expected \"flow\""), "{e}");
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
            ("toy".to_string(), JSON_FORMAT_VERSION)
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
        let current = format!("\"version\":{JSON_FORMAT_VERSION}");
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
