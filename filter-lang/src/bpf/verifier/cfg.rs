//! Structural checks before the abstract interpretation: decoding, program
//! length, jump and call targets, function boundaries, no fall-through off a
//! function's end; plus what the analysis needs from the control-flow graph:
//! pruning points and register liveness.

use super::error::VerifyErrorKind;
use super::sigs;
use crate::bpf::insn::Insn;
use crate::bpf::op::{AtomicOp, Op, Operand, Reg, decode_program};
use crate::bpf::spec::ProgramSpec;
use alloc::vec;
use alloc::vec::Vec;

/// The program's control-flow facts.
pub struct Cfg {
    /// `ops[pc]`: the op starting at word `pc` (`None` inside `lddw`).
    pub ops: Vec<Option<Op>>,
    /// Where the analysis compares and stores states.
    pub prune: Vec<bool>,
    /// Registers live on entry to each instruction (bit n = rn).
    pub live: Vec<u16>,
    /// Function entry points (0 first), sorted.
    pub funcs: Vec<usize>,
}

const R0_5: u16 = 0b11_1111;
const R1_5: u16 = 0b11_1110;

fn bit(r: Reg) -> u16 {
    1 << r.idx()
}

fn opnd(o: Operand) -> u16 {
    match o {
        Operand::Reg(r) => bit(r),
        Operand::Imm(_) => 0,
    }
}

/// (uses, defs) of one op.
fn use_def(op: &Op, spec: &ProgramSpec) -> (u16, u16) {
    match *op {
        Op::Alu {
            op: crate::bpf::AluOp::Mov | crate::bpf::AluOp::MovSx(_),
            dst,
            src,
            ..
        } => (opnd(src), bit(dst)),
        Op::Alu { dst, src, .. } => (bit(dst) | opnd(src), bit(dst)),
        Op::Neg { dst, .. } | Op::End { dst, .. } => (bit(dst), bit(dst)),
        Op::LoadImm64 { dst, .. } => (0, bit(dst)),
        Op::Load { dst, base, .. } => (bit(base), bit(dst)),
        Op::Store { base, src, .. } => (bit(base) | opnd(src), 0),
        Op::Atomic { base, src, op, .. } => match op {
            AtomicOp::CmpXchg => (bit(base) | bit(src) | 1, 1),
            AtomicOp::Xchg
            | AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => (bit(base) | bit(src), bit(src)),
            _ => (bit(base) | bit(src), 0),
        },
        Op::LegacyPacketLoad { .. } => (0, 0),
        Op::Ja { .. } => (0, 0),
        Op::Jmp { dst, src, .. } => (bit(dst) | opnd(src), 0),
        Op::CallHelper { id } => (sigs::arg_mask(spec.ty, id), R0_5),
        Op::CallReg { reg } => (R1_5 | bit(reg), R0_5),
        Op::CallLocal { .. } => (R1_5, R0_5),
        Op::Exit => (1, 0),
    }
}

/// Checks the program's structure and computes its control-flow facts.
pub fn build(words: &[Insn], spec: &ProgramSpec) -> Result<Cfg, (usize, VerifyErrorKind)> {
    let n = words.len();
    if n == 0 {
        return Err((0, VerifyErrorKind::Empty));
    }
    if n > spec.limits.max_insns {
        return Err((
            0,
            VerifyErrorKind::TooLong {
                len: n,
                max: spec.limits.max_insns,
            },
        ));
    }
    let decoded = decode_program(words).map_err(|(pc, e)| (pc, VerifyErrorKind::Decode(e)))?;
    let mut ops = vec![None; n];
    for &(pc, op) in &decoded {
        if matches!(op, Op::LegacyPacketLoad { .. }) {
            return Err((pc, VerifyErrorKind::LegacyPacketAccess));
        }
        ops[pc] = Some(op);
    }
    // Targets must be instruction starts inside the program.
    let check_target = |pc: usize, t: i64| -> Result<usize, (usize, VerifyErrorKind)> {
        if t < 0 || t as usize >= n {
            return Err((pc, VerifyErrorKind::JumpOutOfRange { target: t }));
        }
        let t = t as usize;
        if ops[t].is_none() {
            return Err((pc, VerifyErrorKind::JumpIntoLddw { target: t }));
        }
        Ok(t)
    };
    let mut funcs = vec![0usize];
    let mut prune = vec![false; n];
    for &(pc, op) in &decoded {
        if let Some(t) = op.branch_target(pc) {
            let t = check_target(pc, t)?;
            prune[t] = true;
            if let Op::CallLocal { .. } = op {
                funcs.push(t);
                let ret = pc + 1;
                if ret < n {
                    prune[ret] = true;
                }
            } else if let Op::Jmp { .. } = op
                && pc + 1 < n
            {
                prune[pc + 1] = true;
            }
        }
    }
    funcs.sort_unstable();
    funcs.dedup();
    // Function of each word, and jumps stay inside their function.
    let func_of = |pc: usize| funcs.partition_point(|&f| f <= pc) - 1;
    for &(pc, op) in &decoded {
        if let (Some(t), false) = (op.branch_target(pc), matches!(op, Op::CallLocal { .. })) {
            let t = t as usize;
            if func_of(t) != func_of(pc) {
                return Err((pc, VerifyErrorKind::JumpBetweenFunctions { target: t }));
            }
        }
    }
    // The last instruction of each function ends it.
    for (i, _) in funcs.iter().enumerate() {
        let end = funcs.get(i + 1).copied().unwrap_or(n);
        let last = (0..end).rev().find(|&p| ops[p].is_some()).unwrap_or(0);
        if !matches!(ops[last], Some(Op::Exit | Op::Ja { .. })) {
            return Err((last, VerifyErrorKind::FallThrough));
        }
    }
    let live = liveness(&ops, spec);
    Ok(Cfg {
        ops,
        prune,
        live,
        funcs,
    })
}

/// Backward may-liveness of registers, per function (calls are summarized:
/// they read r1-r5 and define r0-r5). A worklist over predecessors: each
/// word's set only grows, so the work is linear in the program's size.
fn liveness(ops: &[Option<Op>], spec: &ProgramSpec) -> Vec<u16> {
    let n = ops.len();
    let succs = |pc: usize, op: &Op| -> [Option<usize>; 2] {
        let next = pc + op.words();
        let target = op.branch_target(pc).map(|t| t as usize);
        match op {
            Op::Exit => [None, None],
            Op::Ja { .. } => [target, None],
            Op::Jmp { .. } => [Some(next), target],
            _ => [Some(next), None],
        }
    };
    // Predecessors in one flat array: `preds[start[pc]..start[pc + 1]]`.
    let mut edges: Vec<(u32, u32)> = Vec::with_capacity(n + n / 2);
    for (pc, op) in ops.iter().enumerate() {
        let Some(op) = op else { continue };
        for s in succs(pc, op).into_iter().flatten() {
            if s < n {
                edges.push((pc as u32, s as u32));
            }
        }
    }
    let mut start = vec![0u32; n + 1];
    for &(_, s) in &edges {
        start[s as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut preds = vec![0u32; edges.len()];
    for &(pc, s) in &edges {
        preds[fill[s as usize] as usize] = pc;
        fill[s as usize] += 1;
    }
    let mut live = vec![0u16; n];
    let mut queued = vec![true; n];
    let mut work: Vec<usize> = (0..n).collect();
    while let Some(pc) = work.pop() {
        queued[pc] = false;
        let Some(op) = ops[pc] else { continue };
        let at = |p: usize| live.get(p).copied().unwrap_or(0);
        let out = succs(pc, &op)
            .into_iter()
            .flatten()
            .fold(0, |acc, s| acc | at(s));
        let (uses, defs) = use_def(&op, spec);
        let new = uses | (out & !defs);
        if new != live[pc] {
            live[pc] = new;
            for &p in &preds[start[pc] as usize..start[pc + 1] as usize] {
                if !queued[p as usize] {
                    queued[p as usize] = true;
                    work.push(p as usize);
                }
            }
        }
    }
    live
}
