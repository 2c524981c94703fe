//! Bindings: who takes which frames and what happens to them.
//!
//! A binding is (owner, filters, optional handler, optional sink,
//! counters). Its filters go into the merged classifier; a frame they take
//! runs the handler (if any) and, when the handler says *deliver* (or there
//! is no handler), goes to the sink: later a receive ring in the owner's
//! pages, today an in-kernel queue or nothing.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use filter_lang::bpf::Insn;
use filter_lang::bpf::helpers::HelperFault;
use filter_lang::bpf::spec::ProgramSpec;
use filter_lang::filter::{Filter, FilterId, InsertError};
use filter_lang::object::{self, HandlerCode, ObjectError};

use super::code::CodeError;
use super::handler::{Handler, HandlerError};
use super::hooks::{FrameSink, OwnerId};

/// A binding's handle (its slot in the binding table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BindingId(pub u32);

impl fmt::Display for BindingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "binding {}", self.0)
    }
}

/// What to install.
pub struct BindingSpec {
    pub owner: OwnerId,
    /// A name for listings and logs.
    pub name: String,
    /// Frames taken: the disjunction of these filters (at least one).
    pub filters: Vec<Filter>,
    /// The handler's words and what the verifier must be told.
    pub handler: Option<(Vec<Insn>, ProgramSpec)>,
    /// Where delivered frames go.
    pub sink: Option<Box<dyn FrameSink>>,
}

/// Why a binding was refused or could not be changed.
#[derive(Debug)]
pub enum BindError {
    /// The object does not decode (`filter_lang::object::decode`).
    Object(ObjectError),
    /// No filter: the binding would take nothing.
    NoFilter,
    /// Filter programs (filters the atoms cannot express) have no kernel
    /// engine yet.
    FilterProgramUnsupported,
    /// WebAssembly handlers need the wasmi engine (not built yet).
    WasmUnsupported,
    Handler(HandlerError),
    Insert(InsertError),
    /// The classifier could not be compiled or placed.
    Trie(ash_compiler::trie::TrieError),
    Code(CodeError),
    /// The owner no longer exists.
    OwnerGone(OwnerId),
    /// No such binding.
    NoBinding(BindingId),
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object(e) => write!(f, "object: {e}"),
            Self::NoFilter => write!(f, "a binding needs at least one filter"),
            Self::FilterProgramUnsupported => write!(
                f,
                "filter programs are not supported by the kernel yet; express the filter with atoms"
            ),
            Self::WasmUnsupported => write!(
                f,
                "WebAssembly handlers need the wasmi engine, which this kernel does not have yet"
            ),
            Self::Handler(e) => write!(f, "handler: {e}"),
            Self::Insert(e) => write!(f, "classifier: {e}"),
            Self::Trie(e) => write!(f, "classifier compiler: {e}"),
            Self::Code(e) => write!(f, "classifier code: {e}"),
            Self::OwnerGone(o) => write!(f, "{o} does not exist"),
            Self::NoBinding(b) => write!(f, "{b} does not exist"),
        }
    }
}

impl From<HandlerError> for BindError {
    fn from(e: HandlerError) -> Self {
        Self::Handler(e)
    }
}

/// Per-binding counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindingStats {
    /// Frames its filters took.
    pub matches: u64,
    pub handler_runs: u64,
    pub handler_faults: u64,
    /// TSC cycles spent in the handler (helpers included).
    pub handler_cycles: u64,
    /// Frames the handler consumed.
    pub consumed: u64,
    /// Frames handed to the sink.
    pub delivered: u64,
    /// Frames to deliver with no sink or no room in it.
    pub ring_overflows: u64,
    /// Frames the handler sent / failed to send.
    pub sent: u64,
    pub send_failures: u64,
    /// `wake_owner` calls.
    pub wakeups: u64,
}

/// An installed binding.
pub struct Binding {
    pub id: BindingId,
    pub owner: OwnerId,
    pub name: String,
    pub(super) filter_ids: Vec<FilterId>,
    pub handler: Option<Handler>,
    pub(super) sink: Option<Box<dyn FrameSink>>,
    pub stats: BindingStats,
    /// The last handler fault, for diagnostics.
    pub last_fault: Option<HelperFault>,
}

impl Binding {
    /// Filters installed for it.
    pub fn filter_count(&self) -> usize {
        self.filter_ids.len()
    }

    /// The `NETBIND` line for the host: counters and the handler's own.
    pub fn report(&self) -> String {
        let s = &self.stats;
        let mut line = alloc::format!(
            "NETBIND id={} owner={} name={} matches={} handler_runs={} handler_faults={} handler_cycles={} \
             consumed={} delivered={} ring_overflows={} sent={} send_failures={} wakeups={}",
            self.id.0,
            self.owner.0,
            self.name,
            s.matches,
            s.handler_runs,
            s.handler_faults,
            s.handler_cycles,
            s.consumed,
            s.delivered,
            s.ring_overflows,
            s.sent,
            s.send_failures,
            s.wakeups
        );
        if let Some(h) = &self.handler {
            for (i, c) in h.counters.iter().enumerate() {
                line.push_str(&alloc::format!(" counter{i}={c}"));
            }
        }
        line
    }
}

/// Builds a binding from an `exo-filter compile` object: decoded strictly
/// (`filter_lang::object::decode`); the handler is verified and compiled
/// at install time.
pub fn spec_from_object(
    owner: OwnerId,
    name: &str,
    bytes: &[u8],
    sink: Option<Box<dyn FrameSink>>,
) -> Result<BindingSpec, BindError> {
    let obj = object::decode(bytes).map_err(BindError::Object)?;
    if obj.filter_program.is_some() {
        return Err(BindError::FilterProgramUnsupported);
    }
    if obj.filters.is_empty() {
        return Err(BindError::NoFilter);
    }
    let spec = obj.spec();
    let handler = match obj.handler {
        None => None,
        Some(HandlerCode::Wasm(_)) => return Err(BindError::WasmUnsupported),
        Some(HandlerCode::Bpf(words)) => Some((words, spec)),
    };
    Ok(BindingSpec {
        owner,
        name: String::from(name),
        filters: obj.filters,
        handler,
        sink,
    })
}
