//! The op-by-op translation of a checked [`Program`] to x86-64, with jump
//! layout by repeated passes.
//!
//! Layout: pass 1 emits every jump in its long form and learns every
//! label's offset. Later passes pick the 2-byte form wherever the target,
//! as placed by the previous pass, is within reach; the passes stop when no
//! label moves
//! (then every displacement was computed from final offsets). Should that
//! not happen within [`MAX_PASSES`] (loop-head padding can make a later
//! pass grow again), one more all-long pass reuses pass 1's offsets, which
//! are exact for an all-long layout.
//!
//! * [`arith`]: ALU, shifts, division, byte swaps, 64-bit immediates.
//! * [`atomic`]: atomic read-modify-write operations.

mod arith;
mod atomic;

use super::analysis::Program;
use super::blind::KeyStream;
use super::frame::{BPF_FRAME, Frame, max_native_stack};
use super::regmap::{ENV, SCRATCH_A, SCRATCH_B, SCRATCH_C, host};
use super::{CompileError, CompileOptions, Compiled};
use crate::reloc::{RelocKind, RelocTarget, Relocation};
use crate::runtime::env_layout;
use crate::x86::{AluRR, Asm, Cond, Mem, OpSize, Reg};
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::bpf::verifier::InsnFacts;
use filter_lang::bpf::{JmpCond, Op, Operand, Size, Width};

/// Layout passes before falling back to all-long jumps.
pub const MAX_PASSES: u32 = 16;

/// Alignment of loop heads (targets of backward jumps).
pub const LOOP_ALIGN: usize = 16;

const UNKNOWN: usize = usize::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Pc(usize),
    Func(usize),
    Unwind,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct Labels {
    pc: Vec<usize>,
    func: Vec<usize>,
    unwind: usize,
}

impl Labels {
    fn new(n: usize, funcs: usize) -> Labels {
        Labels {
            pc: vec![UNKNOWN; n + 1],
            func: vec![UNKNOWN; funcs],
            unwind: UNKNOWN,
        }
    }

    fn get(&self, l: Label) -> usize {
        match l {
            Label::Pc(p) => self.pc[p],
            Label::Func(f) => self.func[f],
            Label::Unwind => self.unwind,
        }
    }
}

/// What the verifier proved about a register divisor.
#[derive(Clone, Copy)]
struct DivisorProof {
    nonzero: bool,
    not_minus_one: bool,
}

/// A second operand after register mapping and blinding.
#[derive(Clone, Copy)]
enum Src {
    Reg(Reg),
    Imm(i32),
}

struct Pass<'p> {
    prog: &'p Program,
    frame: &'p Frame,
    a: Asm,
    cur: Labels,
    prev: Option<&'p Labels>,
    long_only: bool,
    relocs: Vec<Relocation>,
    keys: Option<KeyStream>,
    too_large: bool,
    /// The verifier's facts per word, when compiling with them.
    facts: Option<&'p [InsnFacts]>,
    /// The facts of the instruction being translated (default: none proven).
    fact: InsnFacts,
}

fn size_of(w: Width) -> OpSize {
    match w {
        Width::W32 => OpSize::B32,
        Width::W64 => OpSize::B64,
    }
}

fn mem_size(s: Size) -> OpSize {
    match s {
        Size::B => OpSize::B8,
        Size::H => OpSize::B16,
        Size::W => OpSize::B32,
        Size::DW => OpSize::B64,
    }
}

fn cond_of(c: JmpCond) -> Cond {
    match c {
        JmpCond::Eq => Cond::E,
        JmpCond::Ne | JmpCond::Set => Cond::Ne,
        JmpCond::Gt => Cond::A,
        JmpCond::Ge => Cond::Ae,
        JmpCond::Lt => Cond::B,
        JmpCond::Le => Cond::Be,
        JmpCond::Sgt => Cond::G,
        JmpCond::Sge => Cond::Ge,
        JmpCond::Slt => Cond::L,
        JmpCond::Sle => Cond::Le,
    }
}

impl<'p> Pass<'p> {
    fn new(
        prog: &'p Program,
        frame: &'p Frame,
        opts: &CompileOptions,
        facts: Option<&'p [InsnFacts]>,
        prev: Option<&'p Labels>,
        long_only: bool,
    ) -> Pass<'p> {
        let n = prog.len();
        Pass {
            prog,
            frame,
            a: Asm::with_capacity(n * 8 + 64),
            cur: Labels::new(n, prog.funcs.len()),
            prev,
            long_only,
            relocs: Vec::new(),
            keys: opts.blinding.map(KeyStream::new),
            too_large: false,
            facts,
            fact: InsnFacts::default(),
        }
    }

    fn label_here(&mut self, l: Label) {
        let here = self.a.len();
        match l {
            Label::Pc(p) => self.cur.pc[p] = here,
            Label::Func(f) => self.cur.func[f] = here,
            Label::Unwind => self.cur.unwind = here,
        }
    }

    /// Offset of `l` if known: exact when already placed in this pass,
    /// else the previous pass's placement.
    fn target(&self, l: Label) -> Option<usize> {
        let c = self.cur.get(l);
        if c != UNKNOWN {
            return Some(c);
        }
        self.prev.map(|p| p.get(l)).filter(|&t| t != UNKNOWN)
    }

    fn rel32(&mut self, t: usize, end: usize) -> i32 {
        match i32::try_from(t as i64 - end as i64) {
            Ok(r) => r,
            Err(_) => {
                self.too_large = true;
                0
            }
        }
    }

    /// `jmp`/`jcc` to a label.
    fn jump(&mut self, cond: Option<Cond>, l: Label) {
        let here = self.a.len();
        let long_len = if cond.is_some() { 6 } else { 5 };
        match self.target(l) {
            Some(t) => {
                if !self.long_only
                    && let Ok(r) = i8::try_from(t as i64 - (here + 2) as i64)
                {
                    match cond {
                        Some(c) => self.a.jcc_rel8(c, r),
                        None => self.a.jmp_rel8(r),
                    }
                    return;
                }
                let r = self.rel32(t, here + long_len);
                match cond {
                    Some(c) => self.a.jcc_rel32(c, r),
                    None => self.a.jmp_rel32(r),
                }
            }
            None => match cond {
                Some(c) => self.a.jcc_rel32(c, 0),
                None => self.a.jmp_rel32(0),
            },
        }
    }

    /// Maps a BPF operand; with blinding on, an immediate is rebuilt in a
    /// scratch register from two random-looking halves.
    fn src(&mut self, o: Operand) -> Src {
        match o {
            Operand::Reg(r) => Src::Reg(host(r)),
            Operand::Imm(i) => match self.keys.as_mut() {
                None => Src::Imm(i),
                Some(k) => {
                    let key = k.next_i32();
                    self.a.mov_ri64_sx(SCRATCH_B, i ^ key);
                    self.a.alu_ri(AluRR::Xor, OpSize::B64, SCRATCH_B, key);
                    Src::Reg(SCRATCH_B)
                }
            },
        }
    }

    fn main_epilogue(&mut self) {
        if self.frame.main_frame > 0 {
            self.a.alu_ri(
                AluRR::Add,
                OpSize::B64,
                Reg::Rsp,
                self.frame.main_frame as i32,
            );
        }
        for &r in self.frame.main_saved.iter().rev() {
            self.a.pop(r);
        }
        self.a.ret();
    }

    fn main_prologue(&mut self) {
        for &r in &self.frame.main_saved {
            self.a.push(r);
        }
        if self.frame.main_frame > 0 {
            self.a.alu_ri(
                AluRR::Sub,
                OpSize::B64,
                Reg::Rsp,
                self.frame.main_frame as i32,
            );
        }
        if self.prog.funcs[0].uses_stack {
            self.a.lea(Reg::Rbp, Mem::new(Reg::Rsp, BPF_FRAME as i32));
        }
        if self.prog.has_helper_calls {
            // The env pointer arrives as the third System V argument (rdx).
            self.a.mov_rr(OpSize::B64, ENV, Reg::Rdx);
            self.a.store(
                OpSize::B64,
                Mem::new(ENV, env_layout::SAVED_RSP as i32),
                Reg::Rsp,
            );
        }
    }

    fn run(&mut self) {
        let prog = self.prog;
        let mut fi = 0;
        for pc in 0..prog.len() {
            if fi < prog.funcs.len() && prog.funcs[fi].start == pc {
                self.label_here(Label::Func(fi));
                if fi == 0 {
                    self.main_prologue();
                } else if prog.funcs[fi].uses_stack {
                    self.a
                        .alu_ri(AluRR::Sub, OpSize::B64, Reg::Rsp, BPF_FRAME as i32);
                    self.a.lea(Reg::Rbp, Mem::new(Reg::Rsp, BPF_FRAME as i32));
                }
                fi += 1;
            }
            if prog.loop_heads[pc] {
                // Loop heads start on a 16-byte boundary, so a short loop
                // body sits in as few fetch windows as possible.
                let pad = (LOOP_ALIGN - self.a.len() % LOOP_ALIGN) % LOOP_ALIGN;
                self.a.nop(pad);
            }
            self.label_here(Label::Pc(pc));
            self.fact = self.facts.map_or_else(InsnFacts::default, |f| f[pc]);
            if self.facts.is_some() && !self.fact.reachable {
                // No path reaches it: no code.
                continue;
            }
            if let Some(op) = &prog.ops[pc] {
                self.op(pc, fi - 1, op);
            }
        }
        self.label_here(Label::Pc(prog.len()));
        // Unreachable for verified programs (no function falls off its end).
        self.a.ud2();
        if prog.has_helper_calls {
            self.label_here(Label::Unwind);
            self.a.load(
                OpSize::B64,
                Reg::Rsp,
                Mem::new(ENV, env_layout::SAVED_RSP as i32),
            );
            self.main_epilogue();
        }
    }

    fn op(&mut self, pc: usize, func: usize, op: &Op) {
        match *op {
            Op::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(width, op, host(dst), src),
            Op::Neg { width, dst } => self.a.neg(size_of(width), host(dst)),
            Op::End { kind, bits, dst } => self.end(kind, bits, host(dst)),
            Op::LoadImm64 { dst, imm } => self.lddw(host(dst), imm),
            Op::Load {
                size,
                sign_extend,
                dst,
                base,
                off,
            } => {
                let m = Mem::new(host(base), off as i32);
                if sign_extend {
                    self.a.load_sx(mem_size(size), host(dst), m);
                } else {
                    self.a.load(mem_size(size), host(dst), m);
                }
            }
            Op::Store {
                size,
                base,
                off,
                src,
            } => {
                let m = Mem::new(host(base), off as i32);
                match self.src(src) {
                    Src::Reg(r) => self.a.store(mem_size(size), m, r),
                    Src::Imm(i) => self.a.store_imm(mem_size(size), m, i),
                }
            }
            Op::Atomic {
                size,
                op,
                base,
                off,
                src,
            } => self.atomic(
                mem_size(size),
                op,
                Mem::new(host(base), off as i32),
                host(src),
            ),
            // Rejected by the analysis.
            Op::LegacyPacketLoad { .. } => self.a.ud2(),
            Op::Ja { off, .. } => {
                if off != 0 {
                    let t = (pc as i64 + 1 + off as i64) as usize;
                    self.jump(None, Label::Pc(t));
                }
            }
            Op::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                if off != 0 {
                    let t = (pc as i64 + 1 + off as i64) as usize;
                    self.cmp(width, cond, host(dst), src);
                    self.jump(Some(cond_of(cond)), Label::Pc(t));
                }
            }
            Op::CallHelper { id } => {
                self.a
                    .store_imm(OpSize::B32, Mem::new(ENV, env_layout::HELPER_ID as i32), id);
                self.call_helper();
            }
            Op::CallReg { .. } if self.fact.callx_helper.is_some() => {
                // The verifier proved which helper this is: a direct call.
                let id = self.fact.callx_helper.unwrap_or(0);
                self.a
                    .store_imm(OpSize::B32, Mem::new(ENV, env_layout::HELPER_ID as i32), id);
                self.call_helper();
            }
            Op::CallReg { reg } => {
                // The id is taken from the register at run time; the
                // trampoline converts it exactly as the interpreter does.
                self.a.store(
                    OpSize::B64,
                    Mem::new(ENV, env_layout::CALLX_VALUE as i32),
                    host(reg),
                );
                self.a
                    .store_imm(OpSize::B32, Mem::new(ENV, env_layout::CALLX as i32), 1);
                self.call_helper();
            }
            Op::CallLocal { off } => {
                let t = (pc as i64 + 1 + off as i64) as usize;
                let f = self
                    .prog
                    .funcs
                    .binary_search_by_key(&t, |f| f.start)
                    .unwrap_or(0);
                self.call_local(f);
            }
            Op::Exit => {
                if func == 0 {
                    self.main_epilogue();
                } else {
                    if self.prog.funcs[func].uses_stack {
                        self.a
                            .alu_ri(AluRR::Add, OpSize::B64, Reg::Rsp, BPF_FRAME as i32);
                    }
                    self.a.ret();
                }
            }
        }
    }

    fn cmp(&mut self, width: Width, cond: JmpCond, d: Reg, src: Operand) {
        let sz = size_of(width);
        let s = self.src(src);
        match (cond, s) {
            (JmpCond::Set, Src::Imm(i)) => self.a.alu_ri(AluRR::Test, sz, d, i),
            (JmpCond::Set, Src::Reg(r)) => self.a.alu_rr(AluRR::Test, sz, d, r),
            // `test r, r` sets the flags exactly as `cmp r, 0` for every condition.
            (_, Src::Imm(0)) => self.a.alu_rr(AluRR::Test, sz, d, d),
            (_, Src::Imm(i)) => self.a.alu_ri(AluRR::Cmp, sz, d, i),
            (_, Src::Reg(r)) => self.a.alu_rr(AluRR::Cmp, sz, d, r),
        }
    }

    fn call_helper(&mut self) {
        self.a.mov_rr(OpSize::B64, SCRATCH_C, ENV);
        let at = self.a.len() + 2;
        self.a.mov_ri64(SCRATCH_A, 0);
        self.relocs.push(Relocation {
            offset: at,
            kind: RelocKind::Abs64,
            target: RelocTarget::HelperTrampoline,
        });
        self.a.call_r(SCRATCH_A);
        self.a
            .cmp_mi8(OpSize::B32, Mem::new(ENV, env_layout::STATUS as i32), 0);
        self.jump(Some(Cond::Ne), Label::Unwind);
    }

    fn call_local(&mut self, f: usize) {
        for &r in &self.frame.call_saved {
            self.a.push(r);
        }
        let here = self.a.len();
        let rel = match self.target(Label::Func(f)) {
            Some(t) => self.rel32(t, here + 5),
            None => 0,
        };
        self.a.call_rel32(rel);
        for &r in self.frame.call_saved.iter().rev() {
            self.a.pop(r);
        }
    }
}

/// Translates a checked program, using the verifier's per-word `facts`
/// when given.
pub fn translate(
    prog: &Program,
    opts: &CompileOptions,
    facts: Option<&[InsnFacts]>,
) -> Result<Compiled, CompileError> {
    let frame = Frame::new(prog);
    let mut first = Pass::new(prog, &frame, opts, facts, None, true);
    first.run();
    let long_labels = first.cur;
    // Pass 2 settles every forward displacement of the all-long layout.
    let mut prev_labels = long_labels.clone();
    let mut passes = 1;
    let (code, labels, relocations) = loop {
        passes += 1;
        let long_only = passes > MAX_PASSES;
        let prev = if long_only {
            &long_labels
        } else {
            &prev_labels
        };
        let mut p = Pass::new(prog, &frame, opts, facts, Some(prev), long_only);
        p.run();
        if p.too_large {
            return Err(CompileError::TooLarge);
        }
        let converged = long_only || p.cur == *prev;
        let Pass { a, cur, relocs, .. } = p;
        if converged {
            break (a, cur, relocs);
        }
        prev_labels = cur;
    };
    Ok(Compiled {
        code: code.into_bytes(),
        relocations,
        entry: 0,
        insn_offsets: labels.pc,
        functions: prog
            .funcs
            .iter()
            .zip(&labels.func)
            .map(|(f, &off)| (f.start, off))
            .collect(),
        calls_helpers: prog.has_helper_calls,
        max_native_stack: max_native_stack(prog, &frame),
        passes,
    })
}
