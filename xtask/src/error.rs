//! The xtask error type: every failure says what went wrong and what to do.

use std::fmt;

/// An xtask failure.
#[derive(Debug)]
pub enum Error {
    /// A command could not be started.
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A command ran and failed.
    CommandFailed { what: String, status: String },
    /// Required tools are missing and cannot be installed automatically.
    MissingTools { tools: Vec<String>, install: String },
    /// File-system error.
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A built image is not bootable as built.
    BadImage(String),
    /// Wrong command-line usage.
    Usage(String),
    /// Tests failed (the summary has been printed).
    TestsFailed { failed: usize },
    /// Anything else, with its explanation.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spawn { program, source } => write!(
                f,
                "cannot run `{program}`: {source} (is it installed and on PATH?)"
            ),
            Self::CommandFailed { what, status } => write!(f, "{what} failed ({status})"),
            Self::MissingTools { tools, install } => {
                write!(
                    f,
                    "missing tools: {}; install them with:\n    {install}",
                    tools.join(", ")
                )
            }
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::BadImage(msg) => write!(f, "kernel image check failed: {msg}"),
            Self::Usage(msg) => write!(f, "{msg}\nrun `cargo xtask help` for usage"),
            Self::TestsFailed { failed } => write!(f, "{failed} test(s) failed"),
            Self::Other(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// Result with the xtask error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an I/O error with context.
pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}
