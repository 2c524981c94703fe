//! The handler bytecode: the BPF instruction set of RFC 9669.
//!
//! * [`insn`]: raw 64-bit instruction words and the opcode constants.
//! * [`helpers`]: the helper-call interface shared by all engines.
//! * [`op`]: the decoded form every engine shares (interpreter, verifier, JIT,
//!   disassembler), with a lossless encoder back to words.

pub mod helpers;
pub mod insn;
pub mod op;

pub use insn::Insn;
pub use op::{AluOp, AtomicOp, DecodeError, EndKind, JmpCond, Op, Operand, Reg, Size, Width};
