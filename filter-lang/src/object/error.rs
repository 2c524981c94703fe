//! Why bytes are not a valid object: one variant per rule of the format.

use crate::filter::wire::WireError;
use core::fmt;

/// Section names for messages.
pub(crate) fn section_name(kind: u16) -> &'static str {
    use super::kind::*;
    match kind {
        FILTER => "filter",
        FILTER_PROGRAM => "filter program",
        DECLS => "declarations",
        HANDLER_BPF => "BPF handler",
        HANDLER_WASM => "WebAssembly handler",
        SOURCE_MAP => "source map",
        SYMBOLS => "symbols",
        _ => "unknown",
    }
}

/// A malformed object.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ObjectError {
    /// Fewer bytes than `what` needs.
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// Bytes after the last section, or after a section's content.
    TrailingBytes { what: &'static str, extra: usize },
    /// The file does not start with the object magic.
    BadMagic,
    /// A format version this code does not read.
    UnsupportedVersion(u16),
    /// A reserved field is not zero.
    Reserved { what: &'static str },
    /// A program type other than 1 (packet) or 2 (memory).
    BadProgramType(u8),
    /// `packet` objects have no type parameter.
    TypeParameter(u32),
    /// A section kind this version does not define.
    UnknownSection(u16),
    /// A section out of order (kinds must ascend).
    SectionOrder { kind: u16, after: u16 },
    /// A section that may appear once appears twice.
    DuplicateSection(u16),
    /// More of something than the format allows.
    TooMany { what: &'static str, max: usize },
    /// A filter section that is not a valid encoded filter.
    Filter { index: usize, error: WireError },
    /// A program section whose length is not a positive multiple of 8.
    BadProgramLength { kind: u16, len: usize },
    /// A handler without declarations, or declarations without a handler.
    DeclsMismatch { has_handler: bool },
    /// Both a BPF and a WebAssembly handler.
    TwoHandlers,
    /// Neither filters nor a handler.
    Empty,
    /// Filters in an object whose type is not `packet`.
    FiltersNeedPacketType,
    /// A region of 0 bytes or beyond the size limit.
    BadRegionSize { index: usize, size: u32 },
    /// Region flags other than bit 0 (writable).
    BadRegionFlags { index: usize, flags: u32 },
    /// A WebAssembly section without the `\0asm` version 1 header.
    BadWasm,
    /// A source map without a BPF handler.
    SourceMapWithoutHandler,
    /// A source map whose span count differs from the handler's words.
    SourceMapLength { spans: usize, words: usize },
    /// A span with line 0 but a column (0/0 means "no span").
    BadSpan { index: usize },
    /// Symbols without declarations.
    SymbolsWithoutDecls,
    /// A name or file name that is empty, too long or not UTF-8.
    BadName { what: &'static str },
    /// Two regions or two counters with the same name.
    DuplicateName { what: &'static str },
    /// An object to encode whose parts disagree (names for declarations
    /// that do not exist, in another split).
    Inconsistent,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ObjectError as E;
        match self {
            E::Truncated { what, need, have } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            E::TrailingBytes { what, extra } => write!(f, "{extra} unexpected bytes after {what}"),
            E::BadMagic => write!(f, "not an exo object (bad magic)"),
            E::UnsupportedVersion(v) => {
                write!(f, "object format version {v} is not supported (expected 1)")
            }
            E::Reserved { what } => write!(f, "reserved field of {what} is not zero"),
            E::BadProgramType(t) => {
                write!(f, "program type {t} is neither 1 (packet) nor 2 (memory)")
            }
            E::TypeParameter(p) => write!(f, "packet objects have type parameter 0, not {p}"),
            E::UnknownSection(k) => write!(f, "unknown section kind {k}"),
            E::SectionOrder { kind, after } => write!(
                f,
                "{} section (kind {kind}) after the {} section (kind {after}): kinds must ascend",
                section_name(*kind),
                section_name(*after)
            ),
            E::DuplicateSection(k) => write!(f, "two {} sections", section_name(*k)),
            E::TooMany { what, max } => write!(f, "more than {max} {what}"),
            E::Filter { index, error } => write!(f, "filter {index}: {error}"),
            E::BadProgramLength { kind, len } => write!(
                f,
                "{} section of {len} bytes is not a positive multiple of 8",
                section_name(*kind)
            ),
            E::DeclsMismatch { has_handler: true } => {
                write!(f, "a handler without a declarations section")
            }
            E::DeclsMismatch { has_handler: false } => {
                write!(f, "a declarations section without a handler")
            }
            E::TwoHandlers => write!(f, "both a BPF and a WebAssembly handler"),
            E::Empty => write!(f, "an object with neither filters nor a handler"),
            E::FiltersNeedPacketType => write!(f, "filters need program type packet"),
            E::BadRegionSize { index, size } => write!(
                f,
                "region {index} has {size} bytes (1 to {} allowed)",
                super::limits::MAX_REGION_BYTES
            ),
            E::BadRegionFlags { index, flags } => {
                write!(
                    f,
                    "region {index} has flags {flags:#x} (only bit 0, writable)"
                )
            }
            E::BadWasm => write!(
                f,
                "WebAssembly section does not start with the `\\0asm` version 1 header"
            ),
            E::SourceMapWithoutHandler => write!(f, "a source map without a BPF handler"),
            E::SourceMapLength { spans, words } => write!(
                f,
                "source map has {spans} spans for a handler of {words} words"
            ),
            E::BadSpan { index } => write!(f, "source map span {index} has line 0 and a column"),
            E::SymbolsWithoutDecls => write!(f, "a symbols section without declarations"),
            E::BadName { what } => write!(f, "{what} is empty, longer than allowed or not UTF-8"),
            E::DuplicateName { what } => write!(f, "two {what} with the same name"),
            E::Inconsistent => write!(
                f,
                "the symbol names do not match the declarations (one name per region, then per counter)"
            ),
        }
    }
}

impl core::error::Error for ObjectError {}
