//! An object's way into the kernel, as `kernel/src/net/binding.rs`
//! (`object_parts`) and `kernel/src/net/handler.rs` (`BpfHandler::load`)
//! take it: the bytes are untrusted, so they are decoded strictly; a
//! filter program must not call and is verified as a `packet` program
//! (`kernel/src/net/demux.rs`); a BPF handler must be a `packet` program
//! and is verified, without its source spans, against the object's
//! declarations with the verifier's default limits (an object cannot
//! raise them). Compilation is the engines' part
//! ([`crate::engine`]).

use filter_lang::bpf::insn::Insn;
use filter_lang::bpf::spec::{ProgramSpec, ProgramType};
use filter_lang::bpf::verifier::{Verified, VerifyError, verify};
use filter_lang::bpf::{Program, Span};
use filter_lang::object::{self, HandlerCode, Object, ObjectError};
use std::fmt;

/// A BPF handler the kernel would accept: its words, what the verifier was
/// told, and what it proved.
#[derive(Clone, Debug)]
pub struct Handler {
    pub words: Vec<Insn>,
    pub spec: ProgramSpec,
    pub verified: Verified,
}

/// An object the kernel would accept.
#[derive(Clone, Debug)]
pub struct Download {
    pub object: Object,
    /// The BPF handler, when the object has one.
    pub handler: Option<Handler>,
    /// What the verifier proved of the filter program, when there is one.
    pub filter_program: Option<Verified>,
}

/// Why the kernel would refuse an object.
#[derive(Debug)]
pub enum Refusal {
    /// The decoder's verdict.
    Object(ObjectError),
    /// A filter program that calls (at this instruction).
    FilterProgramCalls(usize),
    /// The verifier's report on the filter program.
    FilterProgram(Box<VerifyError>),
    /// A handler must be a `packet` program.
    NotPacket(ProgramType),
    /// The verifier's report (without spans, as the kernel verifies).
    Verify(Box<VerifyError>),
    /// A WebAssembly handler: the kernel validates it with wasmi, which
    /// these host tests do not link.
    Wasm,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Object(e) => write!(f, "invalid object: {e}"),
            Refusal::FilterProgramCalls(pc) => {
                write!(f, "filter program: instruction {pc} is a call")
            }
            Refusal::FilterProgram(e) => write!(f, "filter program: verifier: {e}"),
            Refusal::NotPacket(t) => write!(f, "a handler must be a `packet` program, not `{t}`"),
            Refusal::Verify(e) => write!(f, "verifier: {e}"),
            Refusal::Wasm => write!(f, "WebAssembly handlers are validated by wasmi"),
        }
    }
}

/// Takes `bytes` as the kernel's bind path does.
pub fn download(bytes: &[u8]) -> Result<Download, Refusal> {
    let object = object::decode(bytes).map_err(Refusal::Object)?;
    let filter_program = match &object.filter_program {
        None => None,
        Some(words) => {
            if let Some(pc) = words.iter().position(|i| i.is_call()) {
                return Err(Refusal::FilterProgramCalls(pc));
            }
            let spec = ProgramSpec::new(ProgramType::Packet);
            Some(
                verify(&Program::from_words(words.clone()), &spec)
                    .map_err(|e| Refusal::FilterProgram(Box::new(e)))?,
            )
        }
    };
    let handler = match &object.handler {
        None => None,
        Some(_) if object.ty != ProgramType::Packet => return Err(Refusal::NotPacket(object.ty)),
        Some(HandlerCode::Wasm(_)) => return Err(Refusal::Wasm),
        Some(HandlerCode::Bpf(words)) => {
            let spec = object.spec();
            let verified = verify(&Program::from_words(words.clone()), &spec)
                .map_err(|e| Refusal::Verify(Box::new(e)))?;
            Some(Handler {
                words: words.clone(),
                spec,
                verified,
            })
        }
    };
    Ok(Download {
        object,
        handler,
        filter_program,
    })
}

/// Where the object's source map says word `pc` came from.
pub fn source_span(object: &Object, pc: usize) -> Option<Span> {
    object.source_map.as_ref()?.spans.get(pc).copied().flatten()
}

/// Compiles a handler-language source as `exo-filter compile` does and
/// encodes its object (source map naming `name`).
///
/// # Panics
/// When the source does not compile (the error is rendered) or the object
/// does not encode.
pub fn build(name: &str, source: &str) -> (filter_lang::dsl::Compiled, Vec<u8>) {
    let c = filter_lang::dsl::compile(source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.render(source)));
    let bytes = object::encode(&c.object(name))
        .unwrap_or_else(|e| panic!("{name}: the object does not encode: {e}"));
    (c, bytes)
}
