//! The handler language: a source file combines a filter (pcap-filter
//! syntax) with an optional handler, compiled to `packet`-type bytecode the
//! verifier accepts.
//!
//! ```text
//! filter "udp dst port 7"
//! region reply: bytes[1600] writable
//! counter echoed
//!
//! handler {
//!     let n = pkt.len
//!     copy(reply, 0, 0, n)
//!     reply.udp.sport = udp.dport
//!     ...
//!     return consume
//! }
//! ```
//!
//! Pipeline: [`lexer`] → [`parser`] ([`ast`]) → [`check`] (names, types,
//! constants; [`hir`]) → [`codegen`] (bytecode with a source span per
//! word) → the verifier. The filters go through [`crate::pcap`]. Every
//! failure, the verifier's included, is an [`Error`] positioned in the
//! source file. See `docs/DSL.md` for the language.

pub mod ast;
pub mod check;
pub mod codegen;
pub mod error;
pub mod hir;
pub mod layers;
pub mod lexer;
pub mod parser;

pub use error::{Error, ErrorKind, Span};

use crate::bpf::insn::Insn;
use crate::bpf::program::Program;
use crate::bpf::spec::{ProgramSpec, ProgramType, RegionDecl};
use crate::bpf::verifier::{Verified, VerifyErrorKind, verify};
use crate::filter::Filter;
use crate::object::{Decls, HandlerCode, Object, SourceMap, Symbols};
use crate::pcap;
use alloc::string::String;
use alloc::vec::Vec;

/// A compiled handler and everything the kernel and tools need about it.
#[derive(Clone, Debug)]
pub struct Handler {
    /// The bytecode, with the DSL line and column of every word.
    pub program: Program,
    /// The byte span in the source of every word.
    pub byte_spans: Vec<Span>,
    /// Regions and counters, as the verifier was told.
    pub spec: ProgramSpec,
    /// Region names in id order.
    pub region_names: Vec<String>,
    /// Counter names in index order.
    pub counter_names: Vec<String>,
    /// What the verifier proved (the instruction bound among others).
    pub verified: Verified,
}

/// A compiled source file.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Filters whose disjunction selects the frames (atom form).
    pub filters: Vec<Filter>,
    /// A verified `packet` program returning 1 for frames to take, for a
    /// filter that atoms cannot express.
    pub filter_program: Option<Vec<Insn>>,
    pub handler: Option<Handler>,
}

impl Compiled {
    /// The object `exo-filter compile` writes: filters, handler,
    /// declarations, names, and a source map naming `file`.
    pub fn object(&self, file: &str) -> Object {
        let mut o = Object::new(ProgramType::Packet);
        o.filters = self.filters.clone();
        o.filter_program = self.filter_program.clone();
        if let Some(h) = &self.handler {
            o.handler = Some(HandlerCode::Bpf(h.program.words.clone()));
            o.decls = Some(Decls {
                regions: h.spec.regions.clone(),
                counters: h.spec.counters,
            });
            o.source_map = Some(SourceMap {
                file: file.into(),
                spans: h.program.spans.clone(),
            });
            o.symbols = Some(Symbols {
                regions: h.region_names.clone(),
                counters: h.counter_names.clone(),
            });
        }
        o
    }
}

/// What code generation produced, before verification (for tests and the
/// fuzz target, which check that the verifier accepts it).
#[derive(Clone, Debug)]
pub struct Unverified {
    pub filters: Vec<Filter>,
    pub filter_program: Option<Vec<Insn>>,
    pub handler: Option<(codegen::Output, ProgramSpec, Vec<String>, Vec<String>)>,
}

/// Parses, checks and generates code for `src`, without running the
/// verifier on the handler.
pub fn compile_unverified(src: &str) -> Result<Unverified, Error> {
    let items = parser::parse(src)?;
    let checked = check::check(&items)?;
    if checked.filters.is_empty() {
        return Err(Error::new(ErrorKind::NoFilter, Span::new(0, 0)));
    }
    let mut filters = Vec::new();
    let mut filter_program = None;
    for (text, span) in &checked.filters {
        let c = pcap::compile(text).map_err(|e| {
            Error::new(
                ErrorKind::Filter(e.kind.clone(), e.hint()),
                Span::new(span.start + e.span.start, span.start + e.span.end),
            )
        })?;
        match c.target {
            pcap::Target::Atoms(fs) => filters.extend(fs),
            pcap::Target::Bytecode { ops, .. } => {
                if filter_program.is_some() {
                    return Err(Error::new(ErrorKind::TwoBytecodeFilters, *span));
                }
                let words = pcap::bytecode::encode(&ops);
                let spec = ProgramSpec::new(ProgramType::Packet);
                if let Err(e) = verify(&Program::from_words(words.clone()), &spec) {
                    return Err(Error::new(ErrorKind::Rejected(e), *span));
                }
                filter_program = Some(words);
            }
        }
    }
    let handler = match &checked.handler {
        Some(h) => {
            let names: Vec<String> = checked.regions.iter().map(|(n, _)| n.clone()).collect();
            let spec = spec_of(h);
            let out = codegen::generate(h, &names, src, spec.limits.max_insns)?;
            Some((out, spec, names, checked.counters.clone()))
        }
        None => None,
    };
    Ok(Unverified {
        filters,
        filter_program,
        handler,
    })
}

fn spec_of(h: &hir::Handler) -> ProgramSpec {
    let mut spec = ProgramSpec::new(ProgramType::Packet);
    spec.regions = h
        .regions
        .iter()
        .map(|r| RegionDecl {
            size: r.size,
            writable: r.writable,
        })
        .collect();
    spec.counters = h.counters;
    spec
}

/// Compiles `src` and verifies the handler; a verifier rejection is an
/// error at the source text the offending instruction came from.
pub fn compile(src: &str) -> Result<Compiled, Error> {
    let u = compile_unverified(src)?;
    let handler = match u.handler {
        Some((out, spec, region_names, counter_names)) => match verify(&out.program, &spec) {
            Ok(verified) => Some(Handler {
                program: out.program,
                byte_spans: out.byte_spans,
                spec,
                region_names,
                counter_names,
                verified,
            }),
            Err(e) => {
                let span = out.byte_spans.get(e.pc).copied().unwrap_or(Span::new(0, 0));
                return Err(Error::new(ErrorKind::Rejected(e), span));
            }
        },
        None => None,
    };
    Ok(Compiled {
        filters: u.filters,
        filter_program: u.filter_program,
        handler,
    })
}

/// Whether a verifier rejection is about resources (analysis work, states)
/// rather than a rule the compiled code broke.
pub fn is_resource_limit(kind: &VerifyErrorKind) -> bool {
    matches!(
        kind,
        VerifyErrorKind::TooComplex { .. }
            | VerifyErrorKind::TooManyStates { .. }
            | VerifyErrorKind::TooMuchWork { .. }
            | VerifyErrorKind::StateMemory { .. }
    )
}
