//! Structure of a program before translation: decoded ops, function
//! boundaries (BPF-to-BPF calls), and which registers and frames are used.
//!
//! The checks here are cheap structural ones (every jump lands on an
//! instruction of its own function, no function falls off its end) so that
//! [`super::compile`] is total even on unverified input; they are not a
//! substitute for the verifier.

use super::CompileError;
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::bpf::{Insn, Op, Operand, Reg};

/// One function: the main program or a local-call target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Func {
    /// First instruction word.
    pub start: usize,
    /// One past the last instruction word.
    pub end: usize,
    /// Whether any instruction refers to r10 (the function needs its 512-byte frame).
    pub uses_stack: bool,
}

/// A decoded, structurally checked program.
#[derive(Clone, Debug)]
pub struct Program {
    /// The op starting at each word (`None` for the second word of `lddw`).
    pub ops: Vec<Option<Op>>,
    /// Functions in address order; `funcs[0]` is the main program.
    pub funcs: Vec<Func>,
    /// Bit `n` set when BPF register `rn` appears anywhere.
    pub regs_used: u16,
    /// Whether the program calls helpers.
    pub has_helper_calls: bool,
    /// Whether the program makes BPF-to-BPF calls.
    pub has_local_calls: bool,
    /// Words that a backward jump targets (loop heads).
    pub loop_heads: Vec<bool>,
}

/// Registers an op reads or writes, as a bit mask.
fn regs_of(op: &Op) -> u16 {
    let bit = |r: Reg| 1u16 << r.idx();
    let opnd = |o: Operand| match o {
        Operand::Reg(r) => bit(r),
        Operand::Imm(_) => 0,
    };
    match *op {
        Op::Alu { dst, src, .. } => bit(dst) | opnd(src),
        Op::Neg { dst, .. } | Op::End { dst, .. } | Op::LoadImm64 { dst, .. } => bit(dst),
        Op::Load { dst, base, .. } => bit(dst) | bit(base),
        Op::Store { base, src, .. } => bit(base) | opnd(src),
        Op::Atomic { base, src, op, .. } => {
            let r0 = match op {
                filter_lang::bpf::AtomicOp::CmpXchg => bit(Reg::R0),
                _ => 0,
            };
            bit(base) | bit(src) | r0
        }
        Op::LegacyPacketLoad { index, .. } => index.map_or(0, bit),
        Op::Jmp { dst, src, .. } => bit(dst) | opnd(src),
        // A helper call writes r0 and clobbers r1..r5.
        Op::CallHelper { .. } => 0b11_1111,
        Op::CallReg { reg } => 0b11_1111 | bit(reg),
        Op::CallLocal { .. } => bit(Reg::R0),
        Op::Ja { .. } | Op::Exit => 0,
    }
}

impl Program {
    /// Decodes and checks `words`.
    pub fn analyze(words: &[Insn]) -> Result<Program, CompileError> {
        if words.is_empty() {
            return Err(CompileError::Empty);
        }
        let n = words.len();
        let mut ops: Vec<Option<Op>> = Vec::with_capacity(n);
        while ops.len() < n {
            let pc = ops.len();
            match Op::decode(words, pc) {
                Ok(Op::LegacyPacketLoad { .. }) => {
                    return Err(CompileError::LegacyPacketLoad { pc });
                }
                Ok(op) => {
                    let second = op.words() == 2;
                    ops.push(Some(op));
                    if second {
                        ops.push(None);
                    }
                }
                Err(err) => return Err(CompileError::Decode { pc, err }),
            }
        }
        let is_insn = |t: i64| t >= 0 && (t as usize) < n && ops[t as usize].is_some();

        // Function starts: the entry and every local-call target.
        let mut starts = vec![0usize];
        let mut has_helper_calls = false;
        let mut has_local_calls = false;
        for (pc, op) in ops.iter().enumerate() {
            match op {
                Some(op @ Op::CallLocal { .. }) => {
                    has_local_calls = true;
                    let t = op.branch_target(pc).unwrap_or(-1);
                    if !is_insn(t) {
                        return Err(CompileError::BadCallTarget { pc, target: t });
                    }
                    starts.push(t as usize);
                }
                Some(Op::CallHelper { .. } | Op::CallReg { .. }) => has_helper_calls = true,
                _ => {}
            }
        }
        starts.sort_unstable();
        starts.dedup();

        let mut funcs = Vec::with_capacity(starts.len());
        let mut regs_used = 0u16;
        let mut loop_heads = vec![false; n];
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(n);
            let mut uses_stack = false;
            let mut last = start;
            for (pc, op) in ops.iter().enumerate().take(end).skip(start) {
                let Some(op) = op else { continue };
                last = pc;
                let regs = regs_of(op);
                regs_used |= regs;
                uses_stack |= regs & (1 << Reg::FP.idx()) != 0;
                if let (Op::Ja { .. } | Op::Jmp { .. }, Some(t)) = (*op, op.branch_target(pc)) {
                    if !is_insn(t) || (t as usize) < start || (t as usize) >= end {
                        return Err(CompileError::BadJumpTarget { pc, target: t });
                    }
                    if (t as usize) <= pc {
                        loop_heads[t as usize] = true;
                    }
                }
            }
            if !matches!(ops[last], Some(Op::Exit | Op::Ja { .. })) {
                return Err(CompileError::FallsOffEnd { pc: last });
            }
            funcs.push(Func {
                start,
                end,
                uses_stack,
            });
        }
        Ok(Program {
            ops,
            funcs,
            regs_used,
            has_helper_calls,
            has_local_calls,
            loop_heads,
        })
    }

    /// Number of instruction words.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the program has no words (never true after [`Program::analyze`]).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether BPF register `r` appears anywhere.
    pub fn uses(&self, r: Reg) -> bool {
        self.regs_used & (1 << r.idx()) != 0
    }
}
