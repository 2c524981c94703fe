//! The handler bytecode: the BPF instruction set of RFC 9669.
//!
//! * [`insn`]: raw 64-bit instruction words and the opcode constants.
//! * [`op`]: the decoded form every engine shares (interpreter, verifier, JIT,
//!   disassembler), with a lossless encoder back to words.
//! * [`alu`]: the concrete semantics of ALU and jump instructions.
//! * [`helpers`]: the helper-call interface shared by all engines.
//! * [`ash`]: the helpers of `packet` programs (ASHs), one implementation.
//! * [`csum`]: the Internet checksum the helpers compute.
//! * [`program`], [`spec`]: a program with source spans; what the verifier is
//!   told at load time (type, regions, counters, limits).
//! * [`verifier`]: the verifier (the security boundary).
//! * [`interp`]: the reference interpreter.
//! * [`vector`]: conformance test vectors (`.data` files).
//! * [`asm`]: assembler and disassembler (uBPF/bpf_conformance syntax).

pub mod alu;
pub mod ash;
pub mod asm;
pub mod csum;
pub mod helpers;
pub mod insn;
pub mod interp;
pub mod op;
pub mod program;
pub mod spec;
pub mod vector;
pub mod verifier;

pub use insn::Insn;
pub use op::{AluOp, AtomicOp, DecodeError, EndKind, JmpCond, Op, Operand, Reg, Size, Width};
pub use program::{Program, Span};
pub use spec::{Limits, ProgramSpec, ProgramType, RegionDecl};
