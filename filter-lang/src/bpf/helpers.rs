//! The helper-call interface every engine shares.
//!
//! A BPF program calls helper `id` with r1..r5 as arguments and receives r0.
//! The interpreter, the JIT and the kernel all dispatch through [`Helpers`],
//! so a helper has exactly one definition. Helpers reach memory only through
//! [`HelperMemory`], which each engine implements over its own view of memory
//! (the interpreter: checked slices at virtual addresses; JIT'd code: real
//! addresses the verifier has proven valid).
//!
//! Which helpers exist, and the argument types the verifier checks for each,
//! depend on the program type (see the verifier's helper tables).

/// A memory access a helper attempted that is outside what it may touch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MemFault {
    /// Start address of the access.
    pub addr: u64,
    /// Length of the access in bytes.
    pub len: usize,
    /// Whether it was a write.
    pub write: bool,
}

/// Memory as a helper sees it.
pub trait HelperMemory {
    /// Copies `out.len()` bytes starting at `addr` into `out`.
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), MemFault>;
    /// Copies `data` to memory starting at `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault>;
}

/// What a helper call did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HelperOutcome {
    /// Continue the program with this value in r0.
    Return(u64),
    /// Stop the whole program now with this value as its result (the
    /// conformance suite's "unwind" helper).
    Exit(u64),
    /// The helper failed in a way that must abort the program (a handler
    /// fault); the engine stops and reports it.
    Fault(HelperFault),
}

/// Why a helper aborted the program.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HelperFault {
    /// No helper with this id exists for this program's type.
    UnknownHelper(i32),
    /// The helper touched memory it may not.
    Memory(MemFault),
    /// Argument `arg` (1-based: r1 = 1) has a value the helper cannot act
    /// on and has no error return for (the verifier normally rules these
    /// out; the runtime check is a second line of defence).
    BadArgument { id: i32, arg: u8 },
}

impl core::fmt::Display for MemFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} of {} byte(s) at {:#x} is outside the memory the program may {}",
            if self.write { "write" } else { "read" },
            self.len,
            self.addr,
            if self.write { "write" } else { "read" }
        )
    }
}

impl core::fmt::Display for HelperFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HelperFault::UnknownHelper(id) => write!(f, "no helper {id} for this program type"),
            HelperFault::Memory(m) => write!(f, "helper memory fault: {m}"),
            HelperFault::BadArgument { id, arg } => {
                write!(f, "helper {id}: argument r{arg} has an invalid value")
            }
        }
    }
}

/// A set of helper functions.
pub trait Helpers {
    /// Calls helper `id` with `args` = r1..r5.
    fn call(&mut self, id: i32, args: [u64; 5], mem: &mut dyn HelperMemory) -> HelperOutcome;
}

/// No helpers at all: every call faults.
#[derive(Default, Clone, Copy, Debug)]
pub struct NoHelpers;

impl Helpers for NoHelpers {
    fn call(&mut self, id: i32, _args: [u64; 5], _mem: &mut dyn HelperMemory) -> HelperOutcome {
        HelperOutcome::Fault(HelperFault::UnknownHelper(id))
    }
}

/// The conformance suite's helper set: helper 5 "unwind" stops the program
/// with r0 = 0 when r1 is 0 and otherwise returns r1.
#[derive(Default, Clone, Copy, Debug)]
pub struct ConformanceHelpers;

/// Helper number of the conformance suite's unwind helper.
pub const CONFORMANCE_UNWIND: i32 = 5;

impl Helpers for ConformanceHelpers {
    fn call(&mut self, id: i32, args: [u64; 5], _mem: &mut dyn HelperMemory) -> HelperOutcome {
        match id {
            CONFORMANCE_UNWIND if args[0] == 0 => HelperOutcome::Exit(0),
            CONFORMANCE_UNWIND => HelperOutcome::Return(args[0]),
            _ => HelperOutcome::Fault(HelperFault::UnknownHelper(id)),
        }
    }
}
