//! Errors of the pcap-filter front end, with source positions.
//!
//! Every error carries the byte span of the offending text; [`Error::render`]
//! shows line, column, the source line, a caret under the span and a hint.

use alloc::format;
use alloc::string::String;
use core::fmt;

/// A byte range in the source text.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// Line and column (both 1-based, column in characters) of the start
    /// in `src`.
    pub fn line_col(self, src: &str) -> (usize, usize) {
        let start = floor_char(src, self.start);
        let before = &src[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, src[line_start..start].chars().count() + 1)
    }

    /// The source line holding the span's start, and a caret line under the
    /// span (cut at the line's end), each prefixed `  | `.
    pub fn snippet(self, src: &str) -> String {
        let start = floor_char(src, self.start);
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let text = &src[line_start..line_end];
        let end = floor_char(src, self.end.clamp(start, line_end));
        let width = src[start..end].chars().count().max(1);
        let pad: String = src[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("  | {text}\n  | {pad}{}", "^".repeat(width))
    }
}

/// The largest character boundary of `s` at or below byte `i`.
fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What went wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// A character that starts no token.
    UnexpectedChar(char),
    /// A token the grammar does not allow here.
    Unexpected {
        found: String,
        expected: &'static str,
    },
    /// The expression ended too early.
    UnexpectedEnd { expected: &'static str },
    /// A number that does not fit in 32 bits (or is malformed).
    BadNumber(String),
    /// A value out of range for its use (port > 65535, shift > 31, ...).
    OutOfRange {
        what: &'static str,
        value: u64,
        max: u64,
    },
    /// An address that does not parse.
    BadAddress(String),
    /// `net A/len` or `net A mask M` with host bits set.
    NonNetworkBits(String),
    /// A name the front end does not know (host names are not resolved).
    UnknownName(String),
    /// A keyword combination pcap-filter does not define.
    BadQualifier { what: String },
    /// Valid pcap-filter that exo does not support.
    Unsupported(&'static str),
    /// Division or modulo by the constant zero.
    DivisionByZero,
    /// Access size other than 1, 2 or 4.
    BadSize(u64),
    /// Parentheses or brackets nested too deeply.
    TooDeep,
    /// The expression needs bytecode longer than a program may be.
    TooLong { words: usize, max: usize },
}

/// An error with its position.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub span: Span,
}

impl Error {
    pub fn new(kind: ErrorKind, span: Span) -> Error {
        Error { kind, span }
    }

    /// A short suggestion of what to write instead.
    pub fn hint(&self) -> &'static str {
        match &self.kind {
            ErrorKind::UnexpectedChar(_) => {
                "pcap-filter uses letters, digits, `.`, `:`, `-` and the operators ( ) [ ] ! & | ^ + - * / % < > = "
            }
            ErrorKind::Unexpected { .. } | ErrorKind::UnexpectedEnd { .. } => {
                "primitives look like `tcp port 80`, `src host 10.0.0.1`, `ip[9] == 17`; combine them with and/or/not"
            }
            ErrorKind::BadNumber(_) => "numbers are decimal, 0x-hex or 0-octal and fit in 32 bits",
            ErrorKind::OutOfRange { .. } => "use a value within the range shown",
            ErrorKind::BadAddress(_) => {
                "IPv4 is a.b.c.d, IPv6 like fe80::1, Ethernet like 01:02:03:04:05:06"
            }
            ErrorKind::NonNetworkBits(_) => "clear the host bits, e.g. `net 10.0.0.0/8`",
            ErrorKind::UnknownName(_) => {
                "host names and most service names are not resolved; write the address or number"
            }
            ErrorKind::BadQualifier { .. } => {
                "qualifiers go protocol, direction, type: `tcp src port 80`, `ip6 dst host ::1`"
            }
            ErrorKind::Unsupported(_) => "see docs/DSL.md for the supported pcap-filter syntax",
            ErrorKind::DivisionByZero => "divide by a non-zero constant",
            ErrorKind::BadSize(_) => "write proto[offset:1], proto[offset:2] or proto[offset:4]",
            ErrorKind::TooDeep => "simplify the expression",
            ErrorKind::TooLong { .. } => {
                "use fewer alternatives or less arithmetic, or split the filter across bindings"
            }
        }
    }

    /// Line and column (both 1-based, column in characters) of the start.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        self.span.line_col(src)
    }

    /// The full report: position, message, source line, caret, hint.
    pub fn render(&self, src: &str) -> String {
        let (line, col) = self.line_col(src);
        format!(
            "error at {line}:{col}: {self}\n{}\n  = hint: {}",
            self.span.snippet(src),
            self.hint()
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            ErrorKind::Unexpected { found, expected } => {
                write!(f, "expected {expected}, found `{found}`")
            }
            ErrorKind::UnexpectedEnd { expected } => {
                write!(f, "expected {expected}, found the end of the expression")
            }
            ErrorKind::BadNumber(s) => write!(f, "`{s}` is not a 32-bit number"),
            ErrorKind::OutOfRange { what, value, max } => {
                write!(f, "{what} {value} is out of range (at most {max})")
            }
            ErrorKind::BadAddress(s) => write!(f, "`{s}` is not a valid address"),
            ErrorKind::NonNetworkBits(s) => write!(f, "non-network bits set in `{s}`"),
            ErrorKind::UnknownName(s) => write!(f, "unknown name `{s}`"),
            ErrorKind::BadQualifier { what } => write!(f, "{what}"),
            ErrorKind::Unsupported(what) => write!(f, "{what} is not supported"),
            ErrorKind::DivisionByZero => write!(f, "division by zero"),
            ErrorKind::BadSize(n) => write!(f, "access size {n} is not 1, 2 or 4"),
            ErrorKind::TooDeep => write!(f, "expression nested too deeply"),
            ErrorKind::TooLong { words, max } => write!(
                f,
                "the expression compiles to {words} instructions, more than the {max} a program may have"
            ),
        }
    }
}
