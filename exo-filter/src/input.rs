//! Loading programs from files: `.s` assembly (with source lines kept for
//! error messages) or `.bin` raw little-endian instruction words.

use filter_lang::bpf::Program;
use filter_lang::bpf::asm::{AsmError, assemble};
use filter_lang::bpf::insn::words_from_bytes;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a program file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    Read(PathBuf, std::io::Error),
    Asm(PathBuf, AsmError),
    /// A `.bin` whose length is not a multiple of 8.
    BadLength(PathBuf, usize),
    /// Neither `.s` nor `.bin`.
    UnknownExtension(PathBuf),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
            LoadError::Asm(p, e) => write!(f, "{}: {e}", p.display()),
            LoadError::BadLength(p, n) => write!(
                f,
                "{}: {n} bytes is not a whole number of 8-byte instructions",
                p.display()
            ),
            LoadError::UnknownExtension(p) => write!(
                f,
                "{}: expected a `.s` (assembly) or `.bin` (bytecode) file",
                p.display()
            ),
        }
    }
}

/// Loads `.s` (assembled) or `.bin`.
pub fn load_program(path: &Path) -> Result<Program, LoadError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("s") => {
            let text =
                std::fs::read_to_string(path).map_err(|e| LoadError::Read(path.into(), e))?;
            assemble(&text).map_err(|e| LoadError::Asm(path.into(), e))
        }
        Some("bin") => {
            let bytes = std::fs::read(path).map_err(|e| LoadError::Read(path.into(), e))?;
            let words =
                words_from_bytes(&bytes).ok_or(LoadError::BadLength(path.into(), bytes.len()))?;
            Ok(Program::from_words(words))
        }
        _ => Err(LoadError::UnknownExtension(path.into())),
    }
}

/// Prints an error and returns exit code 2.
pub fn fail(msg: impl fmt::Display) -> ExitCode {
    eprintln!("exo-filter: {msg}");
    ExitCode::from(2)
}
