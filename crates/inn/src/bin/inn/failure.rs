//! `Failure`: why a command stopped, and the exit code that tells scripts which kind it was.

use std::fmt;

/// A failed command: a usage error (exit code 2, like clap's own) or a runtime failure (exit
/// code 1: unreadable or invalid data, a bad model file, a training failure).
#[derive(Debug)]
pub enum Failure {
    /// The arguments do not make sense together or for this model.
    Usage(String),
    /// The command was well formed but could not be carried out.
    Runtime(String),
}

impl Failure {
    /// The process exit code: 2 for usage errors, 1 for runtime failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) => f.write_str(m),
        }
    }
}

impl From<inn::Error> for Failure {
    fn from(e: inn::Error) -> Self {
        Failure::Runtime(e.to_string())
    }
}

impl From<inn::data::DataError> for Failure {
    fn from(e: inn::data::DataError) -> Self {
        Failure::Runtime(e.to_string())
    }
}

/// `Result` of a command.
pub type Outcome<T = ()> = Result<T, Failure>;
