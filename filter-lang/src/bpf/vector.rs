//! Conformance test vectors (the `.data` format of the public
//! bpf_conformance suite): sections introduced by `-- name` lines.
//!
//! * `-- asm`: the program in assembly; `-- raw`: the words as `u64`s.
//! * `-- mem`: hex bytes of the buffer r1 points to (r2 = its length).
//! * `-- result`: the expected r0 (hex).
//! * any section whose name contains `error`: the program must be rejected
//!   or fail, for the reason given.
//!
//! Other sections (`-- c`, notes) are ignored; `#` lines outside the program
//! are comments.

use super::insn::Insn;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// One parsed vector.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Vector {
    /// The `-- asm` section's text.
    pub asm: Option<String>,
    /// The `-- raw` section's words.
    pub raw: Option<Vec<Insn>>,
    /// The buffer contents (empty without a `-- mem` section).
    pub mem: Vec<u8>,
    /// The expected r0.
    pub result: Option<u64>,
    /// The expected error text, when the vector must fail.
    pub error: Option<String>,
}

/// Why a vector file does not parse.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum VectorError {
    /// A `-- mem` token is not a hex byte.
    BadMemByte { line: usize },
    /// The `-- result` section is not one hex number.
    BadResult { line: usize },
    /// A `-- raw` line is not a hex 64-bit word.
    BadRawWord { line: usize },
    /// Neither `-- asm` nor `-- raw` is present.
    NoProgram,
    /// Neither `-- result` nor an error section is present.
    NoExpectation,
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VectorError::BadMemByte { line } => {
                write!(f, "line {line}: `-- mem` needs hex bytes like `0a ff`")
            }
            VectorError::BadResult { line } => {
                write!(f, "line {line}: `-- result` needs one hex number like 0x1")
            }
            VectorError::BadRawWord { line } => {
                write!(
                    f,
                    "line {line}: `-- raw` needs one hex 64-bit word per line"
                )
            }
            VectorError::NoProgram => write!(f, "no `-- asm` or `-- raw` section"),
            VectorError::NoExpectation => write!(f, "no `-- result` or error section"),
        }
    }
}

fn hex_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    let h = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u64::from_str_radix(h, 16).ok()
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Asm,
    Raw,
    Mem,
    Result,
    Error,
    Ignored,
}

/// Parses a vector file.
pub fn parse_vector(text: &str) -> Result<Vector, VectorError> {
    let mut v = Vector::default();
    let mut sec = Section::None;
    let mut asm = String::new();
    let mut raw = Vec::new();
    let mut result_text: Option<(usize, String)> = None;
    let mut error = String::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if let Some(name) = line.strip_prefix("--") {
            let name = name.trim();
            sec = match name {
                "asm" => Section::Asm,
                "raw" => Section::Raw,
                "mem" => Section::Mem,
                "result" => Section::Result,
                n if n.contains("error") => Section::Error,
                _ => Section::Ignored,
            };
            match sec {
                Section::Asm => v.asm = Some(String::new()),
                Section::Raw => v.raw = Some(Vec::new()),
                Section::Error => v.error = Some(String::new()),
                _ => {}
            }
            continue;
        }
        let t = line.trim();
        match sec {
            Section::Asm => {
                asm.push_str(line);
                asm.push('\n');
            }
            _ if t.is_empty() || t.starts_with('#') => {}
            Section::Raw => raw.push(Insn::from_u64(
                hex_u64(t).ok_or(VectorError::BadRawWord { line: lineno })?,
            )),
            Section::Mem => {
                for tok in t.split_whitespace() {
                    if tok.len() != 2 {
                        return Err(VectorError::BadMemByte { line: lineno });
                    }
                    v.mem.push(
                        u8::from_str_radix(tok, 16)
                            .map_err(|_| VectorError::BadMemByte { line: lineno })?,
                    );
                }
            }
            Section::Result => {
                if result_text.is_some() {
                    return Err(VectorError::BadResult { line: lineno });
                }
                result_text = Some((lineno, t.into()));
            }
            Section::Error => {
                if !error.is_empty() {
                    error.push(' ');
                }
                error.push_str(t);
            }
            Section::None | Section::Ignored => {}
        }
    }
    if v.asm.is_some() {
        v.asm = Some(asm);
    }
    if v.raw.is_some() {
        v.raw = Some(raw);
    }
    if v.error.is_some() {
        v.error = Some(error);
    }
    if let Some((line, t)) = result_text {
        v.result = Some(hex_u64(&t).ok_or(VectorError::BadResult { line })?);
    }
    if v.asm.is_none() && v.raw.is_none() {
        return Err(VectorError::NoProgram);
    }
    if v.result.is_none() && v.error.is_none() {
        return Err(VectorError::NoExpectation);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections() {
        let v = parse_vector(
            "# c\n-- asm\nmov %r0, 1\nexit\n-- mem\n00 ff\n-- result\n0x1\n-- no register offset\nx\n",
        )
        .unwrap();
        assert_eq!(v.asm.as_deref(), Some("mov %r0, 1\nexit\n"));
        assert_eq!(v.mem, [0, 0xff]);
        assert_eq!(v.result, Some(1));
        assert_eq!(v.error, None);
        assert_eq!(
            parse_vector("-- asm\nexit\n-- mem\nzz\n-- result\n0\n"),
            Err(VectorError::BadMemByte { line: 4 })
        );
        assert_eq!(
            parse_vector("-- asm\nexit\n"),
            Err(VectorError::NoExpectation)
        );
    }
}
