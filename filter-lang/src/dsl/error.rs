//! Errors of the handler language: one enum variant per mistake, each with a
//! message and a hint, positioned by a byte span in the source file.
//!
//! [`Error::render`] shows `error at LINE:COL`, the message, the source line,
//! a caret under the offending text and the hint. Verifier rejections of the
//! compiled program are errors too ([`ErrorKind::Rejected`]), placed at the
//! DSL text the rejected instruction was compiled from.

use crate::bpf::verifier::{VerifyError, VerifyErrorKind};
use crate::pcap;
pub use crate::pcap::Span;
use alloc::format;
use alloc::string::String;
use core::fmt;

/// What went wrong.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    // ---- lexical ----
    /// A character that starts no token.
    UnexpectedChar(char),
    /// A malformed number, or one that does not fit in 64 bits.
    BadNumber(String),
    /// A string without its closing `"` on the same line.
    UnterminatedString,
    // ---- syntax ----
    /// A token the grammar does not allow here.
    Unexpected {
        found: String,
        expected: &'static str,
    },
    /// The file ended too early.
    UnexpectedEnd { expected: &'static str },
    /// Blocks or expressions nested too deeply.
    TooDeep,
    // ---- declarations ----
    /// The pcap-filter expression of a `filter` item is invalid.
    Filter(pcap::ErrorKind, &'static str),
    /// More than one `filter` needs bytecode (only one may).
    TwoBytecodeFilters,
    /// The file has no `filter`.
    NoFilter,
    /// The same name declared twice (`what` is region, counter, ...).
    Duplicate { what: &'static str, name: String },
    /// A name the language reserves (protocol, keyword, built-in).
    Reserved(String),
    /// A region of 0 bytes or with too many elements.
    BadRegionSize { len: u64 },
    /// Too many regions or counters for the object format.
    TooMany { what: &'static str, max: u32 },
    // ---- names and types ----
    /// A name that is not declared.
    UnknownName(String),
    /// A field the protocol does not have.
    UnknownField { layer: &'static str, field: String },
    /// A protocol name that is not known after a region or `.`.
    UnknownLayer(String),
    /// A function that does not exist.
    UnknownFunction(String),
    /// A value of the wrong type.
    Type {
        expected: &'static str,
        found: &'static str,
    },
    /// A call with the wrong number of arguments.
    ArgCount {
        func: &'static str,
        expected: &'static str,
        found: usize,
    },
    /// Assignment to something that cannot be assigned.
    NotAssignable(&'static str),
    /// Store to a region not declared `writable`.
    ReadOnlyRegion(String),
    /// A region used in a way its element type does not allow.
    RegionKind {
        name: String,
        expected: &'static str,
    },
    /// A constant out of range for its use.
    OutOfRange {
        what: &'static str,
        value: u64,
        max: u64,
    },
    /// Arithmetic on constants that overflows or divides by zero.
    ConstArith(&'static str),
    /// `[off:size]` with a size other than 1, 2, 4 or 8.
    BadSize(u64),
    /// Loop bounds that are not constants.
    LoopBound,
    /// A loop of more iterations than allowed.
    LoopTooLong { iterations: u64, max: u64 },
    /// `break`/`continue` outside a loop.
    OutsideLoop(&'static str),
    /// Assignment to a `for` loop's variable.
    LoopVariable(String),
    /// The handler can reach its end without `return`.
    MissingReturn,
    /// A statement after `return`, `break` or `continue` in the same block.
    Unreachable,
    /// An offset whose largest value the compiler cannot bound.
    UnboundedOffset,
    /// A region smaller than an access to it needs.
    RegionTooSmall { name: String, need: u64, size: u64 },
    // ---- limits and the verifier ----
    /// More stack than the 512 bytes a handler has.
    StackOverflow,
    /// The compiled program exceeds the instruction limit.
    TooLong { words: usize, max: usize },
    /// The verifier rejected the compiled program at this source text.
    Rejected(VerifyError),
}

/// An error with its position in the source file.
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
    pub fn hint(&self) -> String {
        use ErrorKind as K;
        String::from(match &self.kind {
            K::UnexpectedChar(_) => "see docs/DSL.md for the tokens of the handler language",
            K::BadNumber(_) => {
                "numbers are decimal, 0x-hex or 0b-binary (with optional `_`), IPv4 a.b.c.d or a MAC aa:bb:cc:dd:ee:ff, at most 64 bits"
            }
            K::UnterminatedString => "close the string with `\"` on the same line",
            K::Unexpected { expected, .. } | K::UnexpectedEnd { expected } => {
                if expected.starts_with("`filter`") || expected.contains("after an item") {
                    "a file holds `filter \"...\"`, `region`, `counter`, `const`, `fallback` and `handler { ... }` items"
                } else {
                    "statements are `let x = ...`, `if ... { }`, `for i in 0..N { }`, `return consume|deliver`, assignments and helper calls (docs/DSL.md)"
                }
            }
            K::TooDeep => "simplify the nesting",
            K::Filter(_, hint) => hint,
            K::TwoBytecodeFilters => {
                "combine the expressions that need bytecode into one filter with `or`"
            }
            K::NoFilter => "add a line such as `filter \"udp dst port 7\"`",
            K::Duplicate { .. } => "choose another name",
            K::Reserved(_) => {
                "protocol names, keywords, helper names and built-in constants cannot be redeclared; choose another name"
            }
            K::BadRegionSize { .. } => "a region holds 1 to 16,777,216 bytes",
            K::TooMany { .. } => "use fewer declarations",
            K::UnknownName(_) => "declare it with `let`, `const`, `region` or `counter` first",
            K::UnknownField { layer, .. } => {
                return format!("fields of {layer}: {}", fields_of(layer));
            }
            K::UnknownLayer(_) => {
                "protocols are eth, ip, arp, udp, tcp, icmp (and udp.payload, tcp.payload, icmp.payload)"
            }
            K::UnknownFunction(_) => {
                "functions: now, count, copy, copy_csum, checksum, send, wake, offset"
            }
            K::Type { expected, .. } => match *expected {
                "a condition" | "a comparison" => {
                    "compare explicitly, e.g. `x != 0` or `tcp.flags & TCP_SYN != 0`"
                }
                _ => "see the types in docs/DSL.md: integers, booleans, regions, counters",
            },
            K::ArgCount { .. } => "see the helper signatures in docs/DSL.md",
            K::NotAssignable(_) => {
                "assign to a variable, a region element, or a field of a writable bytes region"
            }
            K::ReadOnlyRegion(_) => "declare the region `writable`",
            K::RegionKind { .. } => {
                "bytes regions take `name[off:size]` and protocol fields; u16/u32/u64 regions take `name[index]`"
            }
            K::OutOfRange { .. } => "use a value within the range shown",
            K::ConstArith(_) => "constant arithmetic is checked like run-time arithmetic",
            K::BadSize(_) => "write [offset:1], [offset:2], [offset:4] or [offset:8]",
            K::LoopBound => {
                "write `for i in 0..16`: bounds are constants; use `break` to stop early"
            }
            K::LoopTooLong { .. } => "loop over fewer iterations",
            K::OutsideLoop(_) => "use it inside a `for` loop",
            K::LoopVariable(_) => "copy it into a `let` variable first",
            K::MissingReturn => "end every path with `return consume` or `return deliver`",
            K::Unreachable => "remove the statement or move it before the `return`",
            K::UnboundedOffset => {
                "use a constant or a protocol offset such as offset(reply.udp), or a variable set once from one"
            }
            K::RegionTooSmall { .. } => "declare the region larger",
            K::StackOverflow => "use fewer variables at once, or simpler expressions",
            K::TooLong { .. } => "split the work or simplify the handler",
            K::Rejected(e) => match e.kind {
                VerifyErrorKind::TooComplex { .. }
                | VerifyErrorKind::TooManyStates { .. }
                | VerifyErrorKind::TooMuchWork { .. }
                | VerifyErrorKind::StateMemory { .. } => {
                    "loops multiply the paths the verifier explores: use fewer iterations or fewer branches in loop bodies"
                }
                _ => {
                    "the compiled handler breaks a verifier rule; this is a compiler bug worth reporting"
                }
            },
        })
    }

    /// Line and column (1-based; column in characters) of the start.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        self.span.line_col(src)
    }

    /// The full report: position, message, source line, caret, hint.
    pub fn render(&self, src: &str) -> String {
        let (line, col) = self.line_col(src);
        let mut out = format!("error at {line}:{col}: {self}\n");
        out.push_str(&self.span.snippet(src));
        out.push_str(&format!("\n  = hint: {}", self.hint()));
        if let ErrorKind::Rejected(e) = &self.kind {
            out.push_str(&format!("\n  = verifier: insn {}", e.pc));
            if let Some(op) = &e.insn {
                out.push_str(&format!(": {op}"));
            }
            for (r, v) in &e.regs {
                out.push_str(&format!("\n      {r} = {v}"));
            }
        }
        out
    }
}

fn fields_of(layer: &str) -> String {
    let names: alloc::vec::Vec<&str> = super::layers::Layer::from_name(layer)
        .map(|l| l.fields().iter().map(|f| f.name).collect())
        .unwrap_or_default();
    names.join(", ")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind as K;
        match &self.kind {
            K::UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            K::BadNumber(s) => write!(f, "`{s}` is not a valid number"),
            K::UnterminatedString => write!(f, "unterminated string"),
            K::Unexpected { found, expected } => write!(f, "expected {expected}, found {found}"),
            K::UnexpectedEnd { expected } => {
                write!(f, "expected {expected}, found the end of the file")
            }
            K::TooDeep => write!(f, "nested too deeply"),
            K::Filter(kind, _) => {
                let e = pcap::Error::new(kind.clone(), Span::default());
                write!(f, "in the filter: {e}")
            }
            K::TwoBytecodeFilters => write!(
                f,
                "a second filter that atoms cannot express: only one filter per file may compile to bytecode"
            ),
            K::NoFilter => write!(f, "the file has no `filter`"),
            K::Duplicate { what, name } => write!(f, "{what} `{name}` is already declared"),
            K::Reserved(n) => write!(f, "`{n}` is a reserved name"),
            K::BadRegionSize { len } => write!(f, "a region of {len} bytes"),
            K::TooMany { what, max } => write!(f, "more than {max} {what}"),
            K::UnknownName(n) => write!(f, "unknown name `{n}`"),
            K::UnknownField { layer, field } => write!(f, "{layer} has no field `{field}`"),
            K::UnknownLayer(n) => write!(f, "`{n}` is not a protocol"),
            K::UnknownFunction(n) => write!(f, "unknown function `{n}`"),
            K::Type { expected, found } => write!(f, "expected {expected}, found {found}"),
            K::ArgCount {
                func,
                expected,
                found,
            } => write!(f, "`{func}` takes {expected} argument(s), found {found}"),
            K::NotAssignable(what) => write!(f, "cannot assign to {what}"),
            K::ReadOnlyRegion(n) => write!(f, "region `{n}` is not writable"),
            K::RegionKind { name, expected } => {
                write!(f, "region `{name}` is not {expected}")
            }
            K::OutOfRange { what, value, max } => {
                write!(f, "{what} {value} is out of range (at most {max})")
            }
            K::ConstArith(what) => write!(f, "constant {what}"),
            K::BadSize(n) => write!(f, "access size {n} is not 1, 2, 4 or 8"),
            K::LoopBound => write!(f, "loop bounds must be constants"),
            K::LoopTooLong { iterations, max } => {
                write!(f, "a loop of {iterations} iterations (at most {max})")
            }
            K::OutsideLoop(what) => write!(f, "`{what}` outside a loop"),
            K::LoopVariable(n) => write!(f, "`{n}` is a loop variable and cannot be assigned"),
            K::MissingReturn => write!(f, "the handler can reach its end without `return`"),
            K::Unreachable => write!(f, "this statement can never run"),
            K::UnboundedOffset => write!(f, "the largest value of this offset is not known"),
            K::RegionTooSmall { name, need, size } => write!(
                f,
                "region `{name}` has {size} bytes, this access needs {need}"
            ),
            K::StackOverflow => write!(f, "the handler needs more than 512 bytes of stack"),
            K::TooLong { words, max } => write!(
                f,
                "the handler compiles to {words} instructions, the limit is {max}"
            ),
            K::Rejected(e) => write!(f, "the verifier rejects this: {}", e.kind),
        }
    }
}

impl core::error::Error for Error {}
