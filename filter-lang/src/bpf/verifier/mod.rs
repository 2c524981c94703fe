//! The verifier: the security boundary between downloaded handlers and the
//! kernel. It accepts a program only if every run, on every packet, is safe:
//!
//! * structure ([`cfg`]): valid RFC 9669 encodings only, at most
//!   `limits.max_insns` words, jumps inside their function and never into
//!   `lddw`, no fall-through off a function's end;
//! * abstract interpretation ([`analyze`]) over every path, tracking for each
//!   register and stack byte of each call frame: uninitialized, a scalar
//!   (known bits plus signed and unsigned ranges), or a pointer (context,
//!   packet with a proven range, data_end, a stack frame, an application
//!   region, the test buffer) with a bounded offset;
//! * memory rules ([`mem`]): every access inside its object (packet accesses
//!   inside the range proven against data_end), no stores to read-only
//!   memory, no uninitialized reads, pointers stored only as aligned 8-byte
//!   stack spills and never partly read or overwritten;
//! * helpers checked against their signatures ([`sigs`]);
//! * loops accepted only when the analysis proves they end, and a proven
//!   upper bound on the instructions any run executes;
//! * limits on instructions analysed (`max_processed`), stored states
//!   (`max_states`), analysis work (`max_work`) and registers and stack
//!   slots held in states (`max_state_cells`), so verification itself is
//!   bounded in time and memory.
//!
//! The result carries per-instruction facts a compiler can use
//! ([`InsnFacts`]).

pub mod analyze;
pub mod cfg;
pub mod error;
pub mod mem;
pub mod scalar;
pub mod sigs;
pub mod state;
pub mod tnum;

pub use error::{ArgKind, VerifyError, VerifyErrorKind};
pub use state::PtrKind;

use crate::bpf::op::Op;
use crate::bpf::program::Program;
use crate::bpf::spec::ProgramSpec;
use alloc::vec::Vec;

/// Memory classes an instruction may touch ([`InsnFacts::mem`] bits).
pub mod mem_bits {
    pub const CTX: u8 = 1;
    pub const PACKET: u8 = 2;
    pub const STACK: u8 = 4;
    pub const REGION: u8 = 8;
    pub const BUFFER: u8 = 16;
}

pub(crate) fn mem_kind(k: PtrKind) -> u8 {
    match k {
        PtrKind::Ctx => mem_bits::CTX,
        PtrKind::Packet | PtrKind::PacketEnd => mem_bits::PACKET,
        PtrKind::Stack(_) => mem_bits::STACK,
        PtrKind::Region(_) => mem_bits::REGION,
        PtrKind::Buffer => mem_bits::BUFFER,
    }
}

/// What the verifier proved about one instruction, over every path that
/// reaches it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct InsnFacts {
    /// Some path reaches it (unreachable code need not be compiled).
    pub reachable: bool,
    /// Division/modulo by a register: the divisor is never zero.
    pub divisor_nonzero: bool,
    /// Division/modulo by a register: the divisor is never -1 (so signed
    /// division cannot overflow).
    pub divisor_not_minus_one: bool,
    /// `callx`: the one helper it calls.
    pub callx_helper: Option<i32>,
    /// Memory classes the access may touch ([`mem_bits`]).
    pub mem: u8,
}

/// Verification work done.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Stats {
    /// Instructions processed over all explored paths.
    pub processed: usize,
    /// States stored for pruning.
    pub states: usize,
    /// Analysis work ([`crate::bpf::spec::Limits::max_work`]).
    pub work: u64,
    /// Most registers and stack slots held in states at once
    /// ([`crate::bpf::spec::Limits::max_state_cells`]).
    pub peak_cells: usize,
}

/// An accepted program.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Verified {
    /// No run executes more instructions than this (counting as the
    /// interpreter does: `lddw` once, calls and `exit` included).
    pub insn_bound: u64,
    /// `facts[pc]` for each word (default for `lddw`'s second word).
    pub facts: Vec<InsnFacts>,
    /// Function entry points (word indices, 0 first).
    pub funcs: Vec<usize>,
    /// Deepest call nesting reached, in frames (1 = no local calls).
    pub max_call_frames: usize,
    pub stats: Stats,
}

/// Verifies `program` for `spec`.
pub fn verify(program: &Program, spec: &ProgramSpec) -> Result<Verified, VerifyError> {
    let words = &program.words;
    let insn_at = |pc: usize| -> Option<Op> {
        (pc < words.len())
            .then(|| Op::decode(words, pc).ok())
            .flatten()
    };
    let cfg = cfg::build(words, spec).map_err(|(pc, kind)| VerifyError {
        pc,
        kind,
        insn: insn_at(pc),
        regs: Vec::new(),
        span: program.span(pc),
    })?;
    let mut a = analyze::Analysis::new(&cfg, spec);
    match a.run() {
        Ok(bound) => Ok(Verified {
            insn_bound: bound,
            stats: Stats {
                processed: a.processed,
                states: a.states(),
                work: a.work,
                peak_cells: a.peak_cells,
            },
            facts: a.facts,
            funcs: cfg.funcs.clone(),
            max_call_frames: a.max_frames,
        }),
        Err((pc, fail, state)) => Err(VerifyError {
            pc,
            kind: fail.kind,
            insn: cfg.ops[pc],
            regs: fail.regs.iter().map(|&r| (r, state.reg(r))).collect(),
            span: program.span(pc),
        }),
    }
}
