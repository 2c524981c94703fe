//! The handler JIT: verified RFC 9669 programs to x86-64 machine code.
//!
//! [`compile`] takes the instruction words of a program the verifier has
//! accepted and returns a [`Compiled`] image: position-independent code bytes,
//! the [`Relocation`]s the caller must apply once it has placed the code in
//! executable memory (the helper trampoline's address), and the entry offset.
//! The crate never allocates executable memory itself; see `docs/JIT.md`
//! for the calling convention, stack layout and what is relied on from the
//! verifier.
//!
//! * [`analysis`]: function boundaries, registers and stack use.
//! * [`frame`]: native stack frames and the worst-case stack depth.
//! * `translate`: the op-by-op translation and jump layout.
//! * [`regmap`]: the BPF-to-x86-64 register mapping.
//! * [`blind`]: constant-blinding keys.

pub mod analysis;
pub mod blind;
pub mod frame;
pub mod regmap;
mod translate;

use crate::reloc::Relocation;
use alloc::vec::Vec;
use core::fmt;
use filter_lang::bpf::verifier::Verified;
use filter_lang::bpf::{DecodeError, Insn};

/// Options for [`compile`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Constant blinding: `Some(seed)` hides every program-chosen immediate
    /// behind a per-immediate random key derived from `seed`.
    pub blinding: Option<u64>,
}

/// A compiled program, ready to be placed in executable memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// The machine code. Position-independent except for [`Self::relocations`].
    pub code: Vec<u8>,
    /// Fix-ups to apply after placing `code` (see [`crate::reloc`]).
    pub relocations: Vec<Relocation>,
    /// Offset of the entry point in `code`. The entry is an
    /// `extern "sysv64" fn(r1: u64, r2: u64, env: *mut JitEnv) -> u64`.
    pub entry: usize,
    /// For each instruction word `pc`, the offset of its first native byte
    /// (`code.len()` for the second word of `lddw`); one extra element holds
    /// the end of the translated body. For disassembly listings.
    pub insn_offsets: Vec<usize>,
    /// Each function as (BPF word of its first instruction, offset of its
    /// prologue in `code`); the main program first.
    pub functions: Vec<(usize, usize)>,
    /// Whether the code calls helpers (and so needs a [`crate::runtime::JitEnv`];
    /// code without helper calls never touches its third argument, see
    /// [`crate::runtime::call_without_helpers`]).
    pub calls_helpers: bool,
    /// Native stack bytes the program may use at most, excluding helper calls'
    /// own frames (the trampoline and the helper function).
    pub max_native_stack: usize,
    /// How many layout passes were needed.
    pub passes: u32,
}

/// Why a program cannot be compiled. A verified program never gets one of
/// these; they guard against being handed unverified input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// The program has no instructions.
    Empty,
    /// An instruction word does not decode.
    Decode { pc: usize, err: DecodeError },
    /// A jump lands outside the program, inside `lddw`, or in another function.
    BadJumpTarget { pc: usize, target: i64 },
    /// A local call lands outside the program or inside `lddw`.
    BadCallTarget { pc: usize, target: i64 },
    /// A legacy packet load (`ldabs`/`ldind`): no exo program type accepts them.
    LegacyPacketLoad { pc: usize },
    /// The last instruction of a function can fall through past its end.
    FallsOffEnd { pc: usize },
    /// The generated code would exceed the 2 GiB reach of 32-bit displacements.
    TooLarge,
    /// The verifier's facts are for a program of another length.
    FactsMismatch { words: usize, facts: usize },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CompileError::Empty => write!(f, "the program is empty"),
            CompileError::Decode { pc, err } => write!(f, "instruction {pc}: {err}"),
            CompileError::BadJumpTarget { pc, target } => write!(
                f,
                "instruction {pc}: jump target {target} is outside its function or inside lddw; run the verifier first"
            ),
            CompileError::BadCallTarget { pc, target } => write!(
                f,
                "instruction {pc}: local call target {target} is not an instruction of the program"
            ),
            CompileError::LegacyPacketLoad { pc } => write!(
                f,
                "instruction {pc}: legacy packet loads (ldabs/ldind) are not supported; load through the context pointer"
            ),
            CompileError::FallsOffEnd { pc } => write!(
                f,
                "instruction {pc}: the last instruction of a function must be exit or an unconditional jump"
            ),
            CompileError::TooLarge => write!(f, "the program is too large to compile"),
            CompileError::FactsMismatch { words, facts } => write!(
                f,
                "the verifier's facts cover {facts} words but the program has {words}; pass the result of verifying this program"
            ),
        }
    }
}

/// Compiles a verified program (its instruction words) to x86-64 code.
///
/// The result is only safe to run if the verifier accepted `words` for the
/// program type whose context the caller passes; the JIT adds no memory-safety
/// checks of its own (see `docs/JIT.md`, "What the JIT relies on").
pub fn compile(words: &[Insn], opts: &CompileOptions) -> Result<Compiled, CompileError> {
    let prog = analysis::Program::analyze(words)?;
    translate::translate(&prog, opts, None)
}

/// Compiles a program the verifier accepted, using what it proved
/// ([`Verified::facts`]): no zero or -1 test before a division whose
/// register divisor was proven nonzero or not -1, a direct call for a
/// `callx` whose helper was proven, and no code for unreachable words.
/// This is the kernel's path.
pub fn compile_verified(
    words: &[Insn],
    verified: &Verified,
    opts: &CompileOptions,
) -> Result<Compiled, CompileError> {
    if verified.facts.len() != words.len() {
        return Err(CompileError::FactsMismatch {
            words: words.len(),
            facts: verified.facts.len(),
        });
    }
    let prog = analysis::Program::analyze(words)?;
    translate::translate(&prog, opts, Some(&verified.facts))
}
