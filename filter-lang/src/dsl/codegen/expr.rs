//! Expressions and conditions.
//!
//! Integer semantics (the language's, enforced here at run time): values
//! are unsigned 64-bit; `+`, `-`, `*` and `<<` that would overflow (or go
//! below zero), division or remainder by zero, and shifts by 64 or more
//! take the fallback instead of wrapping. `&`, `|`, `^` and `>>` cannot
//! fail. Comparisons are unsigned.

use super::mem::{Off, size_of};
use super::{Gen, Label, R, imm};
use crate::bpf::{AluOp, JmpCond, Reg};
use crate::dsl::ast::{BinOp, CmpOp};
use crate::dsl::hir::{Expr, ExprKind};

fn cmp_cond(op: CmpOp) -> JmpCond {
    match op {
        CmpOp::Eq => JmpCond::Eq,
        CmpOp::Ne => JmpCond::Ne,
        CmpOp::Lt => JmpCond::Lt,
        CmpOp::Le => JmpCond::Le,
        CmpOp::Gt => JmpCond::Gt,
        CmpOp::Ge => JmpCond::Ge,
    }
}

impl Gen<'_> {
    /// Computes `e` into r0. Clobbers r1-r5.
    pub(super) fn expr(&mut self, e: &Expr) -> R<()> {
        let saved = self.span;
        self.span = e.span;
        let r = self.expr_inner(e);
        self.span = saved;
        r
    }

    fn expr_inner(&mut self, e: &Expr) -> R<()> {
        match &e.kind {
            ExprKind::Const(v) => self.mov_imm(Reg::R0, *v),
            ExprKind::Var(v) => {
                let slot = self.vars[*v as usize].expect("a variable in scope has a slot");
                self.load_slot(Reg::R0, slot);
            }
            ExprKind::PktLen => self.load(
                crate::bpf::Size::W,
                Reg::R0,
                super::CTX,
                crate::bpf::spec::packet_ctx::LEN as i16,
            ),
            ExprKind::IfIndex => self.load(
                crate::bpf::Size::W,
                Reg::R0,
                super::CTX,
                crate::bpf::spec::packet_ctx::IFINDEX as i16,
            ),
            ExprKind::Offset { mem, layer } => self.base_offset(*mem, layer.base())?,
            ExprKind::Field { mem, layer, field } => {
                self.access(
                    *mem,
                    Some(*layer),
                    Off::Const(field.off as u64),
                    field.bytes,
                )?;
                self.load_field(field);
            }
            ExprKind::Raw {
                mem,
                layer,
                off,
                size,
            } => {
                let off = self.offset_operand(off)?;
                self.access(*mem, *layer, off, *size)?;
                if let Off::Slot(s) = off {
                    self.free(s);
                }
                self.load_be(*size);
            }
            ExprKind::Elem {
                region,
                elem,
                index,
            } => {
                self.elem_ptr(*region, *elem, index)?;
                self.load(size_of(*elem), Reg::R0, Reg::R2, 0);
            }
            ExprKind::Bin(op, a, b) => self.binary(*op, a, b)?,
            ExprKind::Cmp(..) | ExprKind::Not(_) | ExprKind::And(..) | ExprKind::Or(..) => {
                let (t, f, done) = (self.label(), self.label(), self.label());
                self.cond(e, t, f)?;
                self.place(t);
                self.mov_imm(Reg::R0, 1);
                self.ja(done);
                self.place(f);
                self.mov_imm(Reg::R0, 0);
                self.place(done);
            }
            ExprKind::Call(c) => self.helper_call(c)?,
        }
        Ok(())
    }

    /// A constant offset stays a constant; anything else is computed into
    /// a stack slot (the caller frees it).
    pub(super) fn offset_operand(&mut self, off: &Expr) -> R<Off> {
        if let ExprKind::Const(k) = off.kind {
            return Ok(Off::Const(k));
        }
        self.expr(off)?;
        let s = self.alloc()?;
        self.store_slot(s, Reg::R0);
        Ok(Off::Slot(s))
    }

    /// r2 = a pointer to element `index` of array region `region`
    /// (out-of-range indices take the fallback).
    pub(super) fn elem_ptr(&mut self, region: u32, elem: u8, index: &Expr) -> R<()> {
        self.expr(index)?;
        let n = self.region(region).size as u64 / elem as u64;
        let fb = self.fallback;
        self.jmp_k(JmpCond::Ge, Reg::R0, n, fb);
        if elem > 1 {
            self.alu_k(AluOp::Lsh, Reg::R0, elem.trailing_zeros() as u64);
        }
        self.region_ptr(Reg::R2, region);
        self.alu(AluOp::Add, Reg::R2, Reg::R0);
        Ok(())
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr) -> R<()> {
        if let ExprKind::Const(k) = b.kind
            && imm(k).is_some()
        {
            self.expr(a)?;
            self.op_k(op, k);
            return Ok(());
        }
        self.expr(a)?;
        let s = self.alloc()?;
        self.store_slot(s, Reg::R0);
        self.expr(b)?;
        self.load_slot(Reg::R1, s);
        self.free(s);
        self.op_rr(op);
        Ok(())
    }

    /// r0 = r0 op k, checked (`k` fits an immediate).
    pub(super) fn op_k(&mut self, op: BinOp, k: u64) {
        let fb = self.fallback;
        match op {
            BinOp::Add if k > 0 => {
                self.alu_k(AluOp::Add, Reg::R0, k);
                self.jmp_k(JmpCond::Lt, Reg::R0, k, fb);
            }
            BinOp::Sub if k > 0 => {
                self.jmp_k(JmpCond::Lt, Reg::R0, k, fb);
                self.alu_k(AluOp::Sub, Reg::R0, k);
            }
            BinOp::Add | BinOp::Sub => {}
            BinOp::Mul => match k {
                0 => self.mov_imm(Reg::R0, 0),
                1 => {}
                _ => {
                    self.jmp_k(JmpCond::Gt, Reg::R0, u64::MAX / k, fb);
                    self.alu_k(AluOp::Mul, Reg::R0, k);
                }
            },
            BinOp::Div => self.alu_k(AluOp::Div, Reg::R0, k),
            BinOp::Mod => self.alu_k(AluOp::Mod, Reg::R0, k),
            BinOp::And => self.alu_k(AluOp::And, Reg::R0, k),
            BinOp::Or => self.alu_k(AluOp::Or, Reg::R0, k),
            BinOp::Xor => self.alu_k(AluOp::Xor, Reg::R0, k),
            BinOp::Shl if k > 0 => {
                self.jmp_k(JmpCond::Gt, Reg::R0, u64::MAX >> k, fb);
                self.alu_k(AluOp::Lsh, Reg::R0, k);
            }
            BinOp::Shr if k > 0 => self.alu_k(AluOp::Rsh, Reg::R0, k),
            BinOp::Shl | BinOp::Shr => {}
        }
    }

    /// r0 = r1 op r0, checked. Clobbers r1-r3.
    pub(super) fn op_rr(&mut self, op: BinOp) {
        let fb = self.fallback;
        let (l, r) = (Reg::R1, Reg::R0);
        match op {
            BinOp::Add => {
                self.alu(AluOp::Add, l, r);
                self.jmp(JmpCond::Lt, l, r, fb);
            }
            BinOp::Sub => {
                self.jmp(JmpCond::Lt, l, r, fb);
                self.alu(AluOp::Sub, l, r);
            }
            BinOp::Mul => {
                let zero = self.label();
                self.jmp_k(JmpCond::Eq, r, 0, zero);
                // r2 = u64::MAX (the immediate -1 sign-extends).
                self.op(crate::bpf::Op::Alu {
                    width: crate::bpf::Width::W64,
                    op: AluOp::Mov,
                    dst: Reg::R2,
                    src: crate::bpf::Operand::Imm(-1),
                });
                self.alu(AluOp::Div, Reg::R2, r);
                self.jmp(JmpCond::Gt, l, Reg::R2, fb);
                self.place(zero);
                self.alu(AluOp::Mul, l, r);
            }
            BinOp::Div | BinOp::Mod => {
                self.jmp_k(JmpCond::Eq, r, 0, fb);
                let a = if op == BinOp::Div {
                    AluOp::Div
                } else {
                    AluOp::Mod
                };
                self.alu(a, l, r);
            }
            BinOp::And => self.alu(AluOp::And, l, r),
            BinOp::Or => self.alu(AluOp::Or, l, r),
            BinOp::Xor => self.alu(AluOp::Xor, l, r),
            BinOp::Shl => {
                self.jmp_k(JmpCond::Ge, r, 64, fb);
                self.mov(Reg::R2, l);
                self.alu(AluOp::Lsh, Reg::R2, r);
                self.mov(Reg::R3, Reg::R2);
                self.alu(AluOp::Rsh, Reg::R3, r);
                self.jmp(JmpCond::Ne, Reg::R3, l, fb);
                self.mov(l, Reg::R2);
            }
            BinOp::Shr => {
                self.jmp_k(JmpCond::Ge, r, 64, fb);
                self.alu(AluOp::Rsh, l, r);
            }
        }
        self.mov(Reg::R0, l);
    }

    /// Jumps to `t` when the boolean `e` holds, else to `f`.
    pub(super) fn cond(&mut self, e: &Expr, t: Label, f: Label) -> R<()> {
        let saved = self.span;
        self.span = e.span;
        let r = self.cond_inner(e, t, f);
        self.span = saved;
        r
    }

    fn cond_inner(&mut self, e: &Expr, t: Label, f: Label) -> R<()> {
        match &e.kind {
            ExprKind::Const(v) => self.ja(if *v != 0 { t } else { f }),
            ExprKind::Not(a) => self.cond(a, f, t)?,
            ExprKind::And(a, b) => {
                let mid = self.label();
                self.cond(a, mid, f)?;
                self.place(mid);
                self.cond(b, t, f)?;
            }
            ExprKind::Or(a, b) => {
                let mid = self.label();
                self.cond(a, t, mid)?;
                self.place(mid);
                self.cond(b, t, f)?;
            }
            ExprKind::Cmp(op, a, b) => {
                let c = cmp_cond(*op);
                if let ExprKind::Const(k) = b.kind
                    && imm(k).is_some()
                {
                    self.expr(a)?;
                    self.jmp_k(c, Reg::R0, k, t);
                } else {
                    self.expr(a)?;
                    let s = self.alloc()?;
                    self.store_slot(s, Reg::R0);
                    self.expr(b)?;
                    self.load_slot(Reg::R1, s);
                    self.free(s);
                    self.jmp(c, Reg::R1, Reg::R0, t);
                }
                self.ja(f);
            }
            _ => {
                self.expr(e)?;
                self.jmp_k(JmpCond::Ne, Reg::R0, 0, t);
                self.ja(f);
            }
        }
        Ok(())
    }
}
