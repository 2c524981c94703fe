//! Arithmetic: ALU operations, shifts, division and modulo with RFC 9669
//! edge cases, byte swaps and 64-bit immediates.

use super::{DivisorProof, Pass, Src, size_of};
use crate::handler::regmap::{SCRATCH_A, SCRATCH_B, SCRATCH_C};
use crate::x86::{AluRR, Asm, Cond, OpSize, Reg, ShiftOp};
use filter_lang::bpf::{AluOp, EndKind, Operand, Width};

impl Pass<'_> {
    pub(super) fn alu(&mut self, width: Width, op: AluOp, d: Reg, src: Operand) {
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

    pub(super) fn shift(&mut self, sh: ShiftOp, width: Width, d: Reg, s: Src) {
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
    pub(super) fn divmod(&mut self, width: Width, op: AluOp, d: Reg, s: Src, proof: DivisorProof) {
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

    pub(super) fn end(&mut self, kind: EndKind, bits: u8, d: Reg) {
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

    pub(super) fn lddw(&mut self, d: Reg, imm: u64) {
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
