//! Verification errors: where, why (one enum variant per rule, each with a
//! message), the instruction disassembled, the abstract state of the
//! registers involved and, when known, the source line.

use super::state::{PtrKind, Value};
use crate::bpf::op::{DecodeError, Op, Reg};
use crate::bpf::program::Span;
use alloc::vec::Vec;
use core::fmt;

/// What a helper argument must be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArgKind {
    /// An initialized scalar.
    Scalar,
    /// A constant counter index below the declared count.
    CounterIndex,
    /// A constant region id below the declared count.
    RegionId,
    /// A constant id of a writable region.
    WritableRegionId,
    /// A pointer to readable, initialized memory (stack, packet, region).
    ReadableBuffer,
    /// A scalar length whose range keeps the buffer in bounds.
    Length,
}

impl fmt::Display for ArgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArgKind::Scalar => "a scalar",
            ArgKind::CounterIndex => "a constant counter index below the declared count",
            ArgKind::RegionId => "a constant id of a declared region",
            ArgKind::WritableRegionId => "a constant id of a writable region",
            ArgKind::ReadableBuffer => "a pointer to initialized stack, packet or region memory",
            ArgKind::Length => "a scalar length of at least 1 whose range fits the buffer",
        })
    }
}

/// Why a program is rejected.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum VerifyErrorKind {
    /// The program has no instructions.
    Empty,
    /// More instruction words than the limit.
    TooLong { len: usize, max: usize },
    /// A word is not a valid RFC 9669 instruction.
    Decode(DecodeError),
    /// `ldabs`/`ldind` are not accepted by any exo program type.
    LegacyPacketAccess,
    /// A jump or call leaves the program.
    JumpOutOfRange { target: i64 },
    /// A jump or call lands on the second word of `lddw`.
    JumpIntoLddw { target: usize },
    /// A jump crosses into another function.
    JumpBetweenFunctions { target: usize },
    /// The last instruction of a function is not `exit` or `ja`, so control
    /// could run off its end.
    FallThrough,
    /// A register is read before it is written.
    UninitRegister(Reg),
    /// r10 (the frame pointer) is read-only.
    FramePointerWrite,
    /// An ALU operation other than 64-bit add/sub of a scalar on a pointer.
    PointerArithmetic(&'static str),
    /// Pointer arithmetic whose result could leave the representable offset
    /// range (±2^29): bound the scalar first.
    PointerOverflow,
    /// Variable offset into the context.
    ContextVariableOffset,
    /// A comparison that would reveal a pointer's value.
    PointerComparison,
    /// A load/store/atomic through a register that is not a pointer.
    NotAPointer(Reg),
    /// An access outside the object a pointer points to.
    OutOfBounds {
        kind: PtrKind,
        lo: i64,
        hi: i64,
        size: i64,
    },
    /// A packet access beyond what comparisons with `data_end` proved.
    PacketUnchecked {
        lo: i64,
        hi: i64,
        proven: Option<i64>,
    },
    /// Context access other than a plain aligned load of a whole field.
    ContextAccess { off: i64, size: usize },
    /// Store or atomic to read-only memory (context, packet, read-only
    /// region).
    ReadOnly(PtrKind),
    /// `data_end` is for comparisons only.
    PacketEndAccess,
    /// A stack read of bytes never written.
    UninitStack { off: i64 },
    /// A pointer stored where an application could read it (packet, region,
    /// buffer, context) or into stack bytes an application could see.
    PointerLeak,
    /// A pointer spilled to the stack other than by an aligned 8-byte store.
    MisalignedPointerSpill,
    /// A read of part of (or unaligned into) a spilled pointer.
    PartialPointerRead,
    /// A store over part of a spilled pointer.
    SpilledPointerCorrupted,
    /// An atomic operation at an offset not proven a multiple of its size.
    MisalignedAtomic,
    /// A pointer to a deeper frame's stack stored in a shallower frame (it
    /// would dangle after the return).
    DanglingStackPointer,
    /// A helper that does not exist for this program type.
    UnknownHelper(i32),
    /// `callx` through a register that is not one known helper number.
    CallxTarget(Reg),
    /// A helper argument of the wrong type.
    HelperArg { arg: u8, expected: ArgKind },
    /// Local calls nested deeper than the limit.
    CallDepth { max: usize },
    /// r0 at `exit` is not initialized.
    R0Uninit,
    /// The main program returns a pointer.
    ReturnsPointer,
    /// A function returns a pointer into its own (dying) stack frame.
    ReturnsStackPointer,
    /// A `packet` program's verdict is not proven to be 0 or 1.
    BadVerdict,
    /// A loop whose termination the analysis cannot prove (it reached the
    /// same state again).
    UnboundedLoop,
    /// The analysis processed more instructions than the limit.
    TooComplex { max: usize },
    /// The analysis kept more states than the limit.
    TooManyStates { max: usize },
    /// The analysis compared, copied and scanned more state than the limit.
    TooMuchWork { max: u64 },
    /// The analysis would hold more registers and stack slots in its
    /// states at once than the limit.
    StateMemory { max_cells: usize },
}

impl fmt::Display for VerifyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use VerifyErrorKind as K;
        match self {
            K::Empty => write!(f, "empty program"),
            K::TooLong { len, max } => {
                write!(f, "program has {len} instruction words, the limit is {max}")
            }
            K::Decode(e) => write!(f, "invalid instruction: {e}"),
            K::LegacyPacketAccess => write!(
                f,
                "legacy packet loads (ldabs/ldind) are not supported: load through ctx->data"
            ),
            K::JumpOutOfRange { target } => {
                write!(f, "jump to word {target}, outside the program")
            }
            K::JumpIntoLddw { target } => {
                write!(f, "jump to word {target}, the second half of an lddw")
            }
            K::JumpBetweenFunctions { target } => write!(
                f,
                "jump to word {target}, in another function (use `call local`)"
            ),
            K::FallThrough => write!(
                f,
                "last instruction of a function is not `exit` or `ja`: control would fall off its end"
            ),
            K::UninitRegister(r) => write!(f, "{r} is read before it is written"),
            K::FramePointerWrite => write!(f, "r10 (the frame pointer) is read-only"),
            K::PointerArithmetic(op) => write!(
                f,
                "`{op}` on a pointer: only 64-bit add/sub of a scalar (or pointer - pointer of one object) is allowed"
            ),
            K::PointerOverflow => write!(
                f,
                "pointer arithmetic with a value whose range could push the offset past ±2^29: bound it first (e.g. `and` or a comparison)"
            ),
            K::ContextVariableOffset => {
                write!(
                    f,
                    "variable offset into the context: context fields need constant offsets"
                )
            }
            K::PointerComparison => write!(
                f,
                "comparison would reveal a pointer's value: compare pointers only with pointers into the same object (packet pointers with data_end)"
            ),
            K::NotAPointer(r) => write!(f, "memory access through {r}, which is not a pointer"),
            K::OutOfBounds { kind, lo, hi, size } => write!(
                f,
                "access to bytes [{lo}, {hi}) of {kind}, outside its [{}, {})",
                if matches!(kind, PtrKind::Stack(_)) {
                    -size
                } else {
                    0
                },
                if matches!(kind, PtrKind::Stack(_)) {
                    0
                } else {
                    *size
                }
            ),
            K::PacketUnchecked {
                lo,
                hi,
                proven: Some(proven),
            } => write!(
                f,
                "packet access to bytes [{lo}, {hi}) past the pointer but only {proven} are proven inside the packet: compare with data_end first"
            ),
            K::PacketUnchecked {
                lo,
                hi,
                proven: None,
            } => write!(
                f,
                "packet access to bytes [{lo}, {hi}) past the pointer but nothing about this pointer is proven inside the packet: compare it (or a pointer with the same variable offset) with data_end first"
            ),
            K::ContextAccess { off, size } => write!(
                f,
                "invalid context access of {size} byte(s) at offset {off}: only plain loads of data (u64 @0), data_end (u64 @8), len (u32 @16), ifindex (u32 @20)"
            ),
            K::ReadOnly(k) => write!(f, "store to read-only memory ({k})"),
            K::PacketEndAccess => write!(f, "data_end may only be compared, never dereferenced"),
            K::UninitStack { off } => {
                write!(f, "read of stack byte at fp{off:+} which was never written")
            }
            K::PointerLeak => write!(
                f,
                "pointer stored where the application could read it (only the stack may hold pointers)"
            ),
            K::MisalignedPointerSpill => write!(
                f,
                "pointers may be spilled to the stack only with an aligned 8-byte store"
            ),
            K::PartialPointerRead => {
                write!(
                    f,
                    "partial or misaligned read of a pointer spilled to the stack"
                )
            }
            K::SpilledPointerCorrupted => {
                write!(f, "store over part of a pointer spilled to the stack")
            }
            K::MisalignedAtomic => write!(
                f,
                "atomic operation at an offset not proven to be a multiple of its size"
            ),
            K::DanglingStackPointer => write!(
                f,
                "pointer to a called function's stack stored in its caller's stack would dangle"
            ),
            K::UnknownHelper(id) => write!(f, "no helper {id} for this program type"),
            K::CallxTarget(r) => write!(
                f,
                "callx through {r}, which is not proven to hold one helper number"
            ),
            K::HelperArg { arg, expected } => {
                write!(f, "helper argument r{arg} must be {expected}")
            }
            K::CallDepth { max } => write!(f, "call depth exceeds {max} frames"),
            K::R0Uninit => write!(f, "r0 is not set at exit"),
            K::ReturnsPointer => write!(f, "the program returns a pointer in r0"),
            K::ReturnsStackPointer => {
                write!(f, "function returns a pointer into its own stack frame")
            }
            K::BadVerdict => write!(
                f,
                "r0 at exit must be a verdict: 0 (consumed) or 1 (deliver)"
            ),
            K::UnboundedLoop => write!(
                f,
                "loop reaches the same state again: termination cannot be proven"
            ),
            K::TooComplex { max } => write!(
                f,
                "analysis exceeded {max} instructions (a loop without a proven bound?)"
            ),
            K::TooManyStates { max } => write!(
                f,
                "analysis needed more than {max} states (too many paths: simplify the branching)"
            ),
            K::TooMuchWork { max } => write!(
                f,
                "analysis exceeded its work limit of {max} (many paths with large states: fewer branches, call levels or stack slots in use)"
            ),
            K::StateMemory { max_cells } => write!(
                f,
                "analysis would hold more than {max_cells} registers and stack slots in its states ({} KiB: fewer paths in flight, call levels or stack slots in use)",
                max_cells.saturating_mul(80) / 1024
            ),
        }
    }
}

/// A rejected program: the first violation found.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifyError {
    /// Word index of the offending instruction.
    pub pc: usize,
    pub kind: VerifyErrorKind,
    /// The instruction, when it decodes.
    pub insn: Option<Op>,
    /// Abstract values of the registers involved, at the instruction.
    pub regs: Vec<(Reg, Value)>,
    /// Source position of the instruction, when the program carries spans.
    pub span: Option<Span>,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {}: {}", self.pc, self.kind)?;
        if let Some(s) = self.span {
            write!(f, " (at {s})")?;
        }
        if let Some(op) = &self.insn {
            write!(f, "\n    {op}")?;
        }
        for (r, v) in &self.regs {
            write!(f, "\n    {r} = {v}")?;
        }
        Ok(())
    }
}

impl core::error::Error for VerifyError {}
