//! A small x86-64 encoder for exactly the instruction forms the JITs emit.
//!
//! Why hand-written: the JIT runs inside the kernel on every program
//! download, so it must be `no_std`, small and fast. General assemblers
//! (iced-x86's `code_asm`, dynasm) bring large tables or `std`, and
//! encode through an intermediate representation. The subset here is a few
//! dozen forms; every one is cross-checked against the iced-x86 decoder in
//! this crate's tests (`tests/encoder_vs_iced.rs`).
//!
//! * [`Reg`]: the sixteen general-purpose registers.
//! * [`Cond`]: condition codes for `jcc`.
//! * [`Mem`]: a `[base + disp32]` memory operand.
//! * [`Asm`]: the byte emitter with one method per instruction form.

mod emit;

pub use emit::{AluRR, Asm, OpSize, ShiftOp};

/// A general-purpose register, numbered as in the ModRM encoding.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reg {
    Rax = 0,
    Rcx = 1,
    Rdx = 2,
    Rbx = 3,
    Rsp = 4,
    Rbp = 5,
    Rsi = 6,
    Rdi = 7,
    R8 = 8,
    R9 = 9,
    R10 = 10,
    R11 = 11,
    R12 = 12,
    R13 = 13,
    R14 = 14,
    R15 = 15,
}

impl Reg {
    /// All sixteen registers in encoding order.
    pub const ALL: [Reg; 16] = [
        Reg::Rax,
        Reg::Rcx,
        Reg::Rdx,
        Reg::Rbx,
        Reg::Rsp,
        Reg::Rbp,
        Reg::Rsi,
        Reg::Rdi,
        Reg::R8,
        Reg::R9,
        Reg::R10,
        Reg::R11,
        Reg::R12,
        Reg::R13,
        Reg::R14,
        Reg::R15,
    ];

    /// The 4-bit register number.
    pub const fn num(self) -> u8 {
        self as u8
    }

    /// The low three bits (ModRM/SIB/opcode field).
    pub const fn low(self) -> u8 {
        self as u8 & 7
    }

    /// Whether the register needs a REX extension bit (r8..r15).
    pub const fn ext(self) -> bool {
        self as u8 >= 8
    }

    /// Whether an 8-bit access to this register needs a REX prefix to mean
    /// `spl/bpl/sil/dil` instead of `ah/ch/dh/bh`.
    pub const fn byte_needs_rex(self) -> bool {
        matches!(self, Reg::Rsp | Reg::Rbp | Reg::Rsi | Reg::Rdi)
    }
}

/// Condition codes (the low nibble of `jcc`/`setcc`/`cmovcc`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[repr(u8)]
pub enum Cond {
    /// Below (unsigned `<`, CF=1).
    B = 0x2,
    /// Above or equal (unsigned `>=`).
    Ae = 0x3,
    /// Equal (ZF=1).
    E = 0x4,
    /// Not equal.
    Ne = 0x5,
    /// Below or equal (unsigned `<=`).
    Be = 0x6,
    /// Above (unsigned `>`).
    A = 0x7,
    /// Less (signed `<`).
    L = 0xc,
    /// Greater or equal (signed `>=`).
    Ge = 0xd,
    /// Less or equal (signed `<=`).
    Le = 0xe,
    /// Greater (signed `>`).
    G = 0xf,
}

impl Cond {
    /// The opposite condition.
    pub const fn negate(self) -> Cond {
        match self {
            Cond::B => Cond::Ae,
            Cond::Ae => Cond::B,
            Cond::E => Cond::Ne,
            Cond::Ne => Cond::E,
            Cond::Be => Cond::A,
            Cond::A => Cond::Be,
            Cond::L => Cond::Ge,
            Cond::Ge => Cond::L,
            Cond::Le => Cond::G,
            Cond::G => Cond::Le,
        }
    }
}

/// A memory operand `[base + disp]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Mem {
    pub base: Reg,
    pub disp: i32,
}

impl Mem {
    /// `[base + disp]`.
    pub const fn new(base: Reg, disp: i32) -> Mem {
        Mem { base, disp }
    }
}
