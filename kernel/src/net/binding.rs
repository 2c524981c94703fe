//! Bindings: who takes which frames and what happens to them.
//!
//! A binding is (owner, filters, optional handler, optional sink,
//! counters). Its filters go into the merged classifier; a frame they take
//! runs the handler (if any) and, when the handler says *deliver* (or there
//! is no handler), goes to the sink: a receive ring in the owner's pages
//! (environment bindings), an in-kernel queue (kernel tests) or nothing.
//! An environment's binding also records the frames it pinned, the
//! environments its owner allows to overlap its filters, and whether it
//! is the default receiver of unclaimed frames.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use filter_lang::bpf::Insn;
use filter_lang::bpf::spec::ProgramSpec;
use filter_lang::filter::{Filter, FilterId, InsertError};
use filter_lang::object::{self, ObjectError};

use super::code::CodeError;
use super::handler::{Handler, HandlerCode, HandlerError, HandlerFault};
use super::hooks::{FrameSink, OwnerId};
use super::regions::RegionSource;
use crate::mm::frame::Frame;

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
    /// Frames taken: the disjunction of these filters (at least one, or
    /// a filter program).
    pub filters: Vec<Filter>,
    /// A `packet` program returning 1 for frames to take, for filters the
    /// atoms cannot express. It sees only frames no atom filter takes (so
    /// it can never take another owner's traffic); programs are tried in
    /// install order.
    pub filter_program: Option<Vec<Insn>>,
    /// The handler's code and what the verifier must be told.
    pub handler: Option<(HandlerCode, ProgramSpec)>,
    /// Where the handler's regions live.
    pub regions: RegionSource,
    /// Where delivered frames go.
    pub sink: Option<Box<dyn FrameSink>>,
    /// Frames of a receive ring to set up (environment bindings; the ring
    /// needs the binding id, known at install). Takes precedence over
    /// `sink`.
    pub ring: Option<Vec<Frame>>,
    /// Also receive every frame no filter takes.
    pub default: bool,
    /// Frames the binding layer pinned for this binding (unpinned when it
    /// is removed).
    pub pins: Vec<Frame>,
}

impl BindingSpec {
    /// A kernel binding of `filters` with nothing else.
    pub fn kernel(name: &str, filters: Vec<Filter>) -> BindingSpec {
        BindingSpec {
            owner: super::hooks::KERNEL_OWNER,
            name: String::from(name),
            filters,
            filter_program: None,
            handler: None,
            regions: RegionSource::Kernel,
            sink: None,
            ring: None,
            default: false,
            pins: Vec::new(),
        }
    }
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
    /// The filter program was refused (verifier, JIT or placement).
    FilterProgram(HandlerError),
    /// A filter program may not call (helpers or local functions): it
    /// decides, it does not act.
    FilterProgramCalls {
        pc: usize,
    },
    /// The owner already has this many filter-program bindings.
    TooManyPrograms(usize),
    Handler(HandlerError),
    Insert(InsertError),
    /// The classifier could not be compiled or placed.
    Trie(ash_compiler::trie::TrieError),
    Code(CodeError),
    /// The owner no longer exists.
    OwnerGone(OwnerId),
    /// No such binding.
    NoBinding(BindingId),
    /// A filter may take frames that `binding` of `owner` takes, and that
    /// owner granted the requester nothing.
    Conflict {
        filter: usize,
        binding: BindingId,
        owner: OwnerId,
    },
    /// Another binding already receives the unclaimed frames.
    DefaultTaken(BindingId),
    /// The default receiver needs a ring or sink.
    DefaultWithoutRing,
    /// Every binding id the export table describes is in use.
    TooManyBindings,
    /// The ring pages do not make a ring (fewer than two).
    RingTooSmall,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Object(e) => write!(f, "object: {e}"),
            Self::NoFilter => write!(f, "a binding needs at least one filter"),
            Self::FilterProgram(e) => write!(f, "filter program: {e}"),
            Self::TooManyPrograms(n) => write!(
                f,
                "an environment may have at most {n} filter-program bindings; \
                 express the filter with atoms or unbind one"
            ),
            Self::FilterProgramCalls { pc } => write!(
                f,
                "filter program: instruction {pc} is a call; a filter program may only \
                 read the frame and return 1 (take) or 0"
            ),
            Self::Handler(e) => write!(f, "handler: {e}"),
            Self::Insert(e) => write!(f, "classifier: {e}"),
            Self::Trie(e) => write!(f, "classifier compiler: {e}"),
            Self::Code(e) => write!(f, "classifier code: {e}"),
            Self::OwnerGone(o) => write!(f, "{o} does not exist"),
            Self::NoBinding(b) => write!(f, "{b} does not exist"),
            Self::Conflict {
                filter,
                binding,
                owner,
            } => write!(
                f,
                "filter {filter} may take frames that {binding} of {owner} takes; \
                 ask its owner for a grant (NetCall::Grant) or narrow the filter"
            ),
            Self::DefaultTaken(b) => write!(f, "{b} already receives the unclaimed frames"),
            Self::DefaultWithoutRing => {
                write!(f, "the default receiver needs a receive ring")
            }
            Self::TooManyBindings => write!(
                f,
                "all {} binding ids are in use",
                exo_abi::net::export::MAX_BINDINGS
            ),
            Self::RingTooSmall => write!(f, "a receive ring needs at least two pages"),
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
    /// A copy of its filters for the transmit filter of its handler's
    /// `send_frame` (environment bindings only; empty for the kernel's).
    pub(super) tx_filters: Vec<Filter>,
    pub handler: Option<Handler>,
    /// Its filter program, verified and compiled (see
    /// [`BindingSpec::filter_program`]).
    pub(super) filter_program: Option<Handler>,
    pub(super) sink: Option<Box<dyn FrameSink>>,
    /// Slots of its receive ring (0: none).
    pub ring_slots: u32,
    /// Whether it receives the unclaimed frames.
    pub default: bool,
    /// Frames pinned for it (its ring and regions).
    pub pins: Vec<Frame>,
    /// Environments its owner allows to install overlapping filters.
    pub grants: Vec<OwnerId>,
    pub stats: BindingStats,
    /// The last handler fault, for diagnostics.
    pub last_fault: Option<HandlerFault>,
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
            for (i, c) in h.counters().iter().enumerate() {
                line.push_str(&alloc::format!(" counter{i}={c}"));
            }
        }
        line
    }
}

/// What an object holds, checked for the kernel's engines.
pub struct ObjectParts {
    pub filters: Vec<Filter>,
    pub filter_program: Option<Vec<Insn>>,
    pub handler: Option<(HandlerCode, ProgramSpec)>,
}

/// Decodes an `exo-filter compile` object strictly
/// (`filter_lang::object::decode`); a WebAssembly handler gets `fuel` per
/// run. The handler is verified (or validated) and compiled at install.
pub fn object_parts(bytes: &[u8], fuel: u64) -> Result<ObjectParts, BindError> {
    let obj = object::decode(bytes).map_err(BindError::Object)?;
    let spec = obj.spec();
    let handler = obj.handler.map(|code| {
        let code = match code {
            object::HandlerCode::Bpf(words) => HandlerCode::Bpf(words),
            object::HandlerCode::Wasm(module) => HandlerCode::Wasm { module, fuel },
        };
        (code, spec)
    });
    Ok(ObjectParts {
        filters: obj.filters,
        filter_program: obj.filter_program,
        handler,
    })
}

/// Builds a kernel-style binding (kernel regions, optional sink) from an
/// object.
pub fn spec_from_object(
    owner: OwnerId,
    name: &str,
    bytes: &[u8],
    sink: Option<Box<dyn FrameSink>>,
) -> Result<BindingSpec, BindError> {
    let parts = object_parts(bytes, exo_abi::net::DEFAULT_FUEL)?;
    if parts.filters.is_empty() && parts.filter_program.is_none() {
        return Err(BindError::NoFilter);
    }
    Ok(BindingSpec {
        owner,
        name: String::from(name),
        filters: parts.filters,
        filter_program: parts.filter_program,
        handler: parts.handler,
        regions: RegionSource::Kernel,
        sink,
        ring: None,
        default: false,
        pins: Vec::new(),
    })
}
