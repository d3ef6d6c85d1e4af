//! Column selections such as `x,y` or `0..3,5`: parsing and resolution to column indices.
//!
//! The syntax is documented on [`crate::table::Table::column_indices`].

use crate::error::{Error, Result};

/// Resolves the selection `spec` against the column `names` into 0-based column indices.
pub(super) fn resolve(spec: &str, names: &[String]) -> Result<Vec<usize>> {
    let n_columns = names.len();
    let bad = |token: &str, reason: String| Error::BadColumnSpec {
        token: token.to_owned(),
        spec: spec.to_owned(),
        reason,
    };
    let out_of_range = |index: usize| Error::ColumnOutOfRange {
        index,
        spec: spec.to_owned(),
        n_columns,
    };
    let parse_index = |token: &str, text: &str| -> Result<usize> {
        text.parse::<usize>().map_err(|_| {
            bad(
                token,
                format!("`{text}` is not a column index (a non-negative integer)"),
            )
        })
    };

    let mut indices = Vec::new();
    for raw in spec.split(',') {
        let token = raw.trim();
        if token.is_empty() {
            let reason = if spec.trim().is_empty() {
                "the selection is empty".to_owned()
            } else {
                "empty item between commas".to_owned()
            };
            return Err(bad(token, reason));
        }
        if let Some((start, end)) = token.split_once("..") {
            let (start, end) = (start.trim(), end.trim());
            if end.starts_with('=') {
                return Err(bad(
                    token,
                    "inclusive ranges `a..=b` are not accepted; write the half-open `a..b+1`"
                        .to_owned(),
                ));
            }
            let first = if start.is_empty() {
                0
            } else {
                parse_index(token, start)?
            };
            let stop = if end.is_empty() {
                n_columns
            } else {
                parse_index(token, end)?
            };
            if first >= n_columns {
                return Err(out_of_range(first));
            }
            if stop <= first {
                return Err(bad(
                    token,
                    format!(
                        "the range is empty (`a..b` is half-open: it selects a, …, b−1; here {first}..{stop})"
                    ),
                ));
            }
            if stop > n_columns {
                return Err(out_of_range(n_columns));
            }
            indices.extend(first..stop);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            let index = parse_index(token, token)?;
            if index >= n_columns {
                return Err(out_of_range(index));
            }
            indices.push(index);
        } else {
            let matches: Vec<usize> = (0..n_columns).filter(|&j| names[j] == token).collect();
            match matches.as_slice() {
                [] => {
                    return Err(Error::UnknownColumn {
                        name: token.to_owned(),
                        spec: spec.to_owned(),
                        available: names.to_vec(),
                    });
                }
                [j] => indices.push(*j),
                _ => {
                    return Err(Error::AmbiguousColumn {
                        name: token.to_owned(),
                        spec: spec.to_owned(),
                        indices: matches,
                    });
                }
            }
        }
    }
    Ok(indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn indices_ranges_and_names() {
        let n = names(&["x", "y", "z", "w"]);
        assert_eq!(resolve("0..3,3", &n).unwrap(), [0, 1, 2, 3]);
        assert_eq!(resolve(" z , x ", &n).unwrap(), [2, 0]);
        assert_eq!(resolve("1 .. 3", &n).unwrap(), [1, 2]);
        assert_eq!(resolve("..", &n).unwrap(), [0, 1, 2, 3]);
        assert_eq!(resolve("2..,y", &n).unwrap(), [2, 3, 1]);
    }

    #[test]
    fn unknown_name_lists_the_columns() {
        let err = resolve("x,q", &names(&["x", "y"])).unwrap_err();
        assert!(matches!(&err, Error::UnknownColumn { name, .. } if name == "q"));
        let msg = err.to_string();
        assert!(msg.contains("`q`") && msg.contains("x, y"), "{msg}");
    }

    #[test]
    fn ambiguous_name_is_an_error() {
        let err = resolve("a", &names(&["a", "b", "a"])).unwrap_err();
        assert!(matches!(&err, Error::AmbiguousColumn { indices, .. } if indices == &[0, 2]));
        assert!(err.to_string().contains("[0, 2]"), "{err}");
    }

    #[test]
    fn out_of_range_names_the_index() {
        let n = names(&["a", "b", "c"]);
        for (spec, index) in [("3", 3), ("0,7", 7), ("0..5", 3), ("4..", 4), ("3..4", 3)] {
            let err = resolve(spec, &n).unwrap_err();
            assert!(
                matches!(err, Error::ColumnOutOfRange { index: i, n_columns: 3, .. } if i == index),
                "{spec}: {err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("index {index}")) && msg.contains("3 columns"),
                "{msg}"
            );
        }
    }

    #[test]
    fn bad_syntax_is_an_error() {
        let n = names(&["a", "b", "c"]);
        for (spec, token) in [
            ("", ""),
            ("a,,b", ""),
            ("a,", ""),
            ("1..x", "1..x"),
            ("-1..2", "-1..2"),
            ("2..1", "2..1"),
            ("1..1", "1..1"),
            ("0..=2", "0..=2"),
            ("0..1..2", "0..1..2"),
        ] {
            let err = resolve(spec, &n).unwrap_err();
            assert!(
                matches!(&err, Error::BadColumnSpec { token: t, .. } if t == token),
                "{spec}: {err:?}"
            );
            assert!(err.to_string().contains(&format!("`{spec}`")), "{err}");
        }
    }
}
