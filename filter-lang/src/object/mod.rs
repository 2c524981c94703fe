//! The object format: what `exo-filter compile` writes and the kernel ABI
//! takes. One object carries a binding's filters, its handler (BPF
//! bytecode, or a WebAssembly module for the second engine), the handler's
//! declarations (regions, counters), and optional debugging sections (a
//! source map and names). The layout is specified in `docs/OBJECT.md`.
//!
//! [`decode`] is strict and bounds-checked, meant for untrusted input (the
//! kernel parses objects with it); every malformed input gets a specific
//! [`ObjectError`]. It checks structure only: the kernel still verifies the
//! programs. [`encode`] produces the one canonical encoding and validates
//! it by decoding it back.

mod decode;
mod encode;
mod error;

pub use decode::decode;
pub use encode::encode;
pub use error::ObjectError;

use crate::bpf::insn::Insn;
use crate::bpf::program::{Program, Span};
use crate::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use crate::filter::Filter;
use alloc::string::String;
use alloc::vec::Vec;

/// The first four bytes of every object.
pub const MAGIC: [u8; 4] = *b"\x7fEXO";
/// The format version this code reads and writes.
pub const VERSION: u16 = 1;
/// Size of the file header in bytes.
pub const HEADER_BYTES: usize = 20;
/// Size of a section header in bytes.
pub const SECTION_HEADER_BYTES: usize = 8;

/// Section kinds, in the order sections must appear.
pub mod kind {
    /// One filter in `filter::wire` form (repeated: the filters' disjunction).
    pub const FILTER: u16 = 1;
    /// A `packet` program returning 1 for frames to take (a filter that
    /// atoms cannot express).
    pub const FILTER_PROGRAM: u16 = 2;
    /// The handler's regions and counters.
    pub const DECLS: u16 = 3;
    /// The handler as BPF instruction words.
    pub const HANDLER_BPF: u16 = 4;
    /// The handler as a WebAssembly module (reserved for the wasmi engine).
    pub const HANDLER_WASM: u16 = 5;
    /// Source file name and a span per handler word.
    pub const SOURCE_MAP: u16 = 6;
    /// Region and counter names.
    pub const SYMBOLS: u16 = 7;
}

/// Limits the decoder enforces (they bound the memory a decode takes).
pub mod limits {
    /// Most filters in one object.
    pub const MAX_FILTERS: usize = 16_384;
    /// Most instruction words in one program.
    pub const MAX_WORDS: usize = 1 << 16;
    /// Most regions.
    pub const MAX_REGIONS: usize = 64;
    /// Most counters.
    pub const MAX_COUNTERS: u32 = 65_536;
    /// Longest region or counter name in bytes.
    pub const MAX_NAME: usize = 64;
    /// Longest source file name in bytes.
    pub const MAX_FILE_NAME: usize = 1024;
    /// Largest WebAssembly module in bytes.
    pub const MAX_WASM: usize = 16 << 20;
    /// Largest region in bytes.
    pub const MAX_REGION_BYTES: u32 = 1 << 28;
}

/// A handler's code.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum HandlerCode {
    /// BPF instruction words (verified by the kernel before use).
    Bpf(Vec<Insn>),
    /// A WebAssembly module (run by the wasmi engine with fuel metering).
    Wasm(Vec<u8>),
}

/// A handler's declarations.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Decls {
    /// Application regions, by id.
    pub regions: Vec<RegionDecl>,
    pub counters: u32,
}

/// Where each handler word came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SourceMap {
    pub file: String,
    /// One entry per handler word.
    pub spans: Vec<Option<Span>>,
}

/// Names of the declarations, for tools.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Symbols {
    pub regions: Vec<String>,
    pub counters: Vec<String>,
}

/// A decoded object.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Object {
    /// The handler's program type (`packet` whenever there are filters).
    pub ty: ProgramType,
    /// Filters whose disjunction selects the frames.
    pub filters: Vec<Filter>,
    pub filter_program: Option<Vec<Insn>>,
    /// Present exactly when `handler` is.
    pub decls: Option<Decls>,
    pub handler: Option<HandlerCode>,
    /// Only with a BPF handler.
    pub source_map: Option<SourceMap>,
    /// Only with declarations.
    pub symbols: Option<Symbols>,
}

impl Object {
    /// An object of type `ty` with nothing in it yet.
    pub fn new(ty: ProgramType) -> Object {
        Object {
            ty,
            filters: Vec::new(),
            filter_program: None,
            decls: None,
            handler: None,
            source_map: None,
            symbols: None,
        }
    }

    /// The BPF handler with its source spans (when the object has them).
    pub fn handler_program(&self) -> Option<Program> {
        match &self.handler {
            Some(HandlerCode::Bpf(words)) => Some(Program {
                words: words.clone(),
                spans: self
                    .source_map
                    .as_ref()
                    .map(|m| m.spans.clone())
                    .unwrap_or_default(),
            }),
            _ => None,
        }
    }

    /// What the verifier must be told about the handler.
    pub fn spec(&self) -> ProgramSpec {
        let mut spec = ProgramSpec::new(self.ty);
        if let Some(d) = &self.decls {
            spec.regions = d.regions.clone();
            spec.counters = d.counters;
        }
        spec
    }
}
