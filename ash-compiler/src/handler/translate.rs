//! The op-by-op translation of a checked [`Program`] to x86-64, with jump
//! layout by repeated passes.
//!
//! Layout: pass 1 emits every jump in its long form and learns every
//! label's offset. Later passes pick the 2-byte form wherever the target,
//! as placed by the previous pass, is within reach; code only shrinks, so a
//! jump that was short stays short, and the passes stop when no label moves
//! (then every displacement was computed from final offsets). Should that
//! not happen within [`MAX_PASSES`], one more all-long pass reuses pass 1's
//! offsets, which are exact for an all-long layout.

use super::analysis::Program;
use super::blind::KeyStream;
use super::regmap::{CALLEE_SAVED_BPF, ENV, SCRATCH_A, SCRATCH_B, SCRATCH_C, host};
use super::{CompileError, CompileOptions, Compiled};
use crate::reloc::{RelocKind, RelocTarget, Relocation};
use crate::runtime::env_layout;
use crate::x86::{AluRR, Asm, Cond, Mem, OpSize, Reg, ShiftOp};
use alloc::vec;
use alloc::vec::Vec;
use filter_lang::bpf::verifier::InsnFacts;
use filter_lang::bpf::{
    AluOp, AtomicOp, EndKind, JmpCond, Op, Operand, Reg as BpfReg, Size, Width,
};

/// Layout passes before falling back to all-long jumps.
pub const MAX_PASSES: u32 = 16;

/// Alignment of loop heads (targets of backward jumps).
pub const LOOP_ALIGN: usize = 16;

/// Bytes of each BPF frame (RFC 9669 stack: r10 points at its top).
pub const BPF_FRAME: usize = 512;

/// Local-call frames beyond the main program's that the verifier allows
/// (8 frames in all), used to bound the native stack.
pub const MAX_CALL_DEPTH: usize = filter_lang::bpf::interp::exec::DEFAULT_MAX_CALL_FRAMES - 1;

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

/// Frame decisions shared by every pass.
struct Frame {
    /// Registers the main prologue pushes, in order.
    main_saved: Vec<Reg>,
    /// `sub rsp` of the main prologue (BPF frame and alignment padding).
    main_frame: usize,
    /// Registers a local call site pushes, in order (odd count: keeps alignment).
    call_saved: Vec<Reg>,
}

impl Frame {
    fn new(p: &Program) -> Frame {
        let any_stack = p.funcs.iter().any(|f| f.uses_stack);
        let bpf_saved = [
            (BpfReg::R6, Reg::Rbx),
            (BpfReg::R7, Reg::R13),
            (BpfReg::R8, Reg::R14),
            (BpfReg::R9, Reg::R15),
        ];
        let mut saved: Vec<Reg> = bpf_saved
            .iter()
            .filter(|(b, _)| p.uses(*b))
            .map(|&(_, h)| h)
            .collect();
        if any_stack {
            saved.push(Reg::Rbp);
        }
        let mut call_saved = saved.clone();
        if call_saved.len().is_multiple_of(2) {
            // Return address plus an odd number of pushes keeps rsp 16-aligned.
            call_saved.push(SCRATCH_A);
        }
        let mut main_saved = saved;
        if p.has_helper_calls {
            main_saved.push(ENV);
        }
        let needs_align = p.has_helper_calls || p.has_local_calls;
        let mut main_frame = if p.funcs[0].uses_stack { BPF_FRAME } else { 0 };
        // At entry rsp = 8 (mod 16): the caller's return address.
        if needs_align && !(8 + 8 * main_saved.len() + main_frame).is_multiple_of(16) {
            main_frame += 8;
        }
        debug_assert!(CALLEE_SAVED_BPF.iter().all(|r| !matches!(r, Reg::R12)));
        Frame {
            main_saved,
            main_frame,
            call_saved,
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

    fn alu(&mut self, width: Width, op: AluOp, d: Reg, src: Operand) {
        let sz = size_of(width);
        // The verifier's divisor facts speak of register divisors only.
        let by_reg = matches!(src, Operand::Reg(_));
        let proof = DivisorProof {
            nonzero: by_reg && self.fact.divisor_nonzero,
            not_minus_one: by_reg && self.fact.divisor_not_minus_one,
        };
        let s = self.src(src);
        match op {
            AluOp::Mov => match s {
                Src::Imm(i) => match width {
                    Width::W64 => self.a.load_imm64(d, i as i64 as u64),
                    Width::W32 => self.a.load_imm64(d, i as u32 as u64),
                },
                // A 32-bit move to itself still clears the upper half.
                Src::Reg(r) if r == d && width == Width::W64 => {}
                Src::Reg(r) => self.a.mov_rr(sz, d, r),
            },
            AluOp::MovSx(bits) => {
                let from = match bits {
                    8 => OpSize::B8,
                    16 => OpSize::B16,
                    _ => OpSize::B32,
                };
                match s {
                    Src::Reg(r) => self.a.movsx_rr(sz, from, d, r),
                    // The decoder only produces register sources for movsx.
                    Src::Imm(_) => self.a.ud2(),
                }
            }
            AluOp::Add | AluOp::Sub | AluOp::And | AluOp::Or | AluOp::Xor => {
                let x = match op {
                    AluOp::Add => AluRR::Add,
                    AluOp::Sub => AluRR::Sub,
                    AluOp::And => AluRR::And,
                    AluOp::Or => AluRR::Or,
                    _ => AluRR::Xor,
                };
                match s {
                    Src::Imm(i) => self.a.alu_ri(x, sz, d, i),
                    Src::Reg(r) => self.a.alu_rr(x, sz, d, r),
                }
            }
            AluOp::Mul => match s {
                Src::Imm(i) => self.a.imul_rri(sz, d, d, i),
                Src::Reg(r) => self.a.imul_rr(sz, d, r),
            },
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => {
                let sh = match op {
                    AluOp::Lsh => ShiftOp::Shl,
                    AluOp::Rsh => ShiftOp::Shr,
                    _ => ShiftOp::Sar,
                };
                self.shift(sh, width, d, s);
            }
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => {
                self.divmod(width, op, d, s, proof)
            }
        }
    }

    fn shift(&mut self, sh: ShiftOp, width: Width, d: Reg, s: Src) {
        let sz = size_of(width);
        match s {
            Src::Imm(i) => {
                let mask = if width == Width::W64 { 63 } else { 31 };
                let count = (i & mask) as u8;
                if count != 0 {
                    self.a.shift_ri(sh, sz, d, count);
                } else if width == Width::W32 {
                    // A shift by zero still truncates to 32 bits.
                    self.a.mov_rr(OpSize::B32, d, d);
                }
            }
            Src::Reg(Reg::Rcx) => self.a.shift_cl(sh, sz, d),
            Src::Reg(r) => {
                // The count must be in cl; rcx holds BPF r4.
                self.a.mov_rr(OpSize::B64, SCRATCH_A, Reg::Rcx);
                self.a.mov_rr(OpSize::B64, Reg::Rcx, r);
                if d == Reg::Rcx {
                    self.a.shift_cl(sh, sz, SCRATCH_A);
                } else {
                    self.a.shift_cl(sh, sz, d);
                }
                self.a.mov_rr(OpSize::B64, Reg::Rcx, SCRATCH_A);
            }
        }
    }

    /// Division and modulo with RFC semantics: by zero, `div` gives 0 and
    /// `mod` leaves dst (truncated to 32 bits for the 32-bit forms); signed
    /// by -1 is negation / zero (x86 `idiv` would trap on INT_MIN / -1).
    fn divmod(&mut self, width: Width, op: AluOp, d: Reg, s: Src, proof: DivisorProof) {
        let sz = size_of(width);
        let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
        let is_mod = matches!(op, AluOp::Mod | AluOp::SMod);
        let by_zero = |a: &mut Asm| {
            if !is_mod {
                a.alu_rr(AluRR::Xor, OpSize::B32, d, d);
            } else if width == Width::W32 {
                a.mov_rr(OpSize::B32, d, d);
            }
        };
        let by_minus_one = |a: &mut Asm| {
            if is_mod {
                a.alu_rr(AluRR::Xor, OpSize::B32, d, d);
            } else {
                a.neg(sz, d);
            }
        };
        match s {
            Src::Imm(0) => by_zero(&mut self.a),
            Src::Imm(-1) if signed => by_minus_one(&mut self.a),
            Src::Imm(i) => {
                match width {
                    Width::W64 => self.a.load_imm64(SCRATCH_A, i as i64 as u64),
                    Width::W32 => self.a.load_imm64(SCRATCH_A, i as u32 as u64),
                }
                div_core(&mut self.a, sz, signed, is_mod, d);
            }
            Src::Reg(r) => {
                // Runtime checks only where the verifier did not prove them away.
                let need_zero = !proof.nonzero;
                let need_m1 = signed && !proof.not_minus_one;
                let mut n = Asm::new();
                if need_m1 {
                    by_minus_one(&mut n);
                }
                let mut z = Asm::new();
                if need_zero {
                    by_zero(&mut z);
                    if need_m1 {
                        z.jmp_rel8(n.len() as i8);
                    }
                }
                let rest = z.len() + n.len();
                let mut g = Asm::new();
                g.mov_rr(OpSize::B64, SCRATCH_A, r);
                div_core(&mut g, sz, signed, is_mod, d);
                if rest > 0 {
                    g.jmp_rel8(rest as i8);
                }
                let mut chk = Asm::new();
                if need_m1 {
                    chk.alu_ri(AluRR::Cmp, sz, r, -1);
                    chk.jcc_rel8(Cond::E, (g.len() + z.len()) as i8);
                }
                if need_zero {
                    self.a.alu_rr(AluRR::Test, sz, r, r);
                    self.a.jcc_rel8(Cond::E, (chk.len() + g.len()) as i8);
                }
                self.a.append(&chk);
                self.a.append(&g);
                self.a.append(&z);
                self.a.append(&n);
            }
        }
    }

    fn end(&mut self, kind: EndKind, bits: u8, d: Reg) {
        match (kind, bits) {
            (EndKind::ToLe, 16) => self.a.movzx_rr(OpSize::B16, d, d),
            (EndKind::ToLe, 32) => self.a.mov_rr(OpSize::B32, d, d),
            (EndKind::ToLe, _) => {}
            (_, 16) => {
                self.a.shift_ri(ShiftOp::Rol, OpSize::B16, d, 8);
                self.a.movzx_rr(OpSize::B16, d, d);
            }
            (_, 32) => self.a.bswap(OpSize::B32, d),
            (_, _) => self.a.bswap(OpSize::B64, d),
        }
    }

    fn lddw(&mut self, d: Reg, imm: u64) {
        match self.keys.as_mut() {
            None => self.a.load_imm64(d, imm),
            Some(k) => {
                let key = k.next_u64();
                self.a.mov_ri64(d, imm ^ key);
                self.a.mov_ri64(SCRATCH_B, key);
                self.a.alu_rr(AluRR::Xor, OpSize::B64, d, SCRATCH_B);
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

    fn atomic(&mut self, sz: OpSize, op: AtomicOp, m: Mem, s: Reg) {
        match op {
            AtomicOp::Add { fetch: false } => self.a.lock_alu_mr(AluRR::Add, sz, m, s),
            AtomicOp::Or { fetch: false } => self.a.lock_alu_mr(AluRR::Or, sz, m, s),
            AtomicOp::And { fetch: false } => self.a.lock_alu_mr(AluRR::And, sz, m, s),
            AtomicOp::Xor { fetch: false } => self.a.lock_alu_mr(AluRR::Xor, sz, m, s),
            AtomicOp::Add { fetch: true } => self.a.lock_xadd(sz, m, s),
            AtomicOp::Xchg => self.a.xchg_mr(sz, m, s),
            AtomicOp::CmpXchg => {
                self.a.lock_cmpxchg(sz, m, s);
                if sz == OpSize::B32 {
                    // On success cmpxchg leaves rax's upper half alone; BPF
                    // wants r0 = the zero-extended old value either way.
                    self.a.mov_rr(OpSize::B32, Reg::Rax, Reg::Rax);
                }
            }
            AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => {
                let x = match op {
                    AtomicOp::Or { .. } => AluRR::Or,
                    AtomicOp::And { .. } => AluRR::And,
                    _ => AluRR::Xor,
                };
                // A cmpxchg loop: rax is the expected old value, so BPF r0 is
                // parked in a scratch register meanwhile.
                let addr = Mem::new(SCRATCH_C, 0);
                self.a.lea(SCRATCH_C, m);
                self.a.mov_rr(OpSize::B64, SCRATCH_B, Reg::Rax);
                let operand = if s == Reg::Rax { SCRATCH_B } else { s };
                let mut body = Asm::new();
                body.load(sz, Reg::Rax, addr);
                body.mov_rr(OpSize::B64, SCRATCH_A, Reg::Rax);
                body.alu_rr(x, sz, SCRATCH_A, operand);
                body.lock_cmpxchg(sz, addr, SCRATCH_A);
                let back = -((body.len() + 2) as i32);
                self.a.append(&body);
                self.a.jcc_rel8(Cond::Ne, back as i8);
                if s != Reg::Rax {
                    self.a.mov_rr(sz, s, Reg::Rax);
                    self.a.mov_rr(OpSize::B64, Reg::Rax, SCRATCH_B);
                }
            }
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

/// `d = d / r11` or `d % r11` through rdx:rax, preserving BPF r0 (rax) and
/// r3 (rdx) unless one of them is `d`.
fn div_core(a: &mut Asm, sz: OpSize, signed: bool, is_mod: bool, d: Reg) {
    if d != Reg::Rax {
        a.mov_rr(OpSize::B64, SCRATCH_C, Reg::Rax);
    }
    if d != Reg::Rdx {
        a.mov_rr(OpSize::B64, SCRATCH_B, Reg::Rdx);
    }
    if d != Reg::Rax {
        a.mov_rr(OpSize::B64, Reg::Rax, d);
    }
    if signed {
        a.sign_extend_acc(sz);
        a.idiv(sz, SCRATCH_A);
    } else {
        a.alu_rr(AluRR::Xor, OpSize::B32, Reg::Rdx, Reg::Rdx);
        a.div(sz, SCRATCH_A);
    }
    let res = if is_mod { Reg::Rdx } else { Reg::Rax };
    if d != res {
        a.mov_rr(sz, d, res);
    }
    if d != Reg::Rax {
        a.mov_rr(OpSize::B64, Reg::Rax, SCRATCH_C);
    }
    if d != Reg::Rdx {
        a.mov_rr(OpSize::B64, Reg::Rdx, SCRATCH_B);
    }
}

/// Native stack bytes for the deepest chain of local calls.
fn max_native_stack(p: &Program, frame: &Frame) -> usize {
    let main = 8 + 8 * frame.main_saved.len() + frame.main_frame;
    let per_call = |f: usize| {
        8 * frame.call_saved.len() + 8 + if p.funcs[f].uses_stack { BPF_FRAME } else { 0 }
    };
    // Callees of each function.
    let nf = p.funcs.len();
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); nf];
    for (fi, f) in p.funcs.iter().enumerate() {
        for pc in f.start..f.end {
            if let Some(op @ Op::CallLocal { .. }) = p.ops[pc] {
                let t = op.branch_target(pc).unwrap_or(0) as usize;
                if let Ok(g) = p.funcs.binary_search_by_key(&t, |f| f.start) {
                    callees[fi].push(g);
                }
            }
        }
    }
    // Deepest path by bounded depth-first search (the verifier bounds depth
    // and forbids recursion; a cycle here just hits the bound).
    fn deepest(
        f: usize,
        depth: usize,
        callees: &[Vec<usize>],
        per_call: &dyn Fn(usize) -> usize,
    ) -> usize {
        if depth == MAX_CALL_DEPTH {
            return 0;
        }
        callees[f]
            .iter()
            .map(|&g| per_call(g) + deepest(g, depth + 1, callees, per_call))
            .max()
            .unwrap_or(0)
    }
    main + deepest(0, 0, &callees, &per_call)
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
        max_native_stack: max_native_stack(prog, &frame),
        passes,
    })
}
