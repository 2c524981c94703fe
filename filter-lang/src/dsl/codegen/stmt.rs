//! Statements and helper calls.
//!
//! Helper failures are not values the handler sees: a copy that does not
//! fit the packet or the region, a frame the transmit queue refuses, a
//! length a helper cannot take, all end the handler with its fallback
//! verdict (by default `deliver`, so the owner still gets the frame).

use super::mem::{Off, size_of};
use super::{Gen, R};
use crate::bpf::ash::{MAX_FRAME_LEN, id as helper};
use crate::bpf::{JmpCond, Op, Reg};
use crate::dsl::ast::BinOp;
use crate::dsl::check::max_of;
use crate::dsl::hir::{Call, Expr, ExprKind, Mem, Place, Stmt};

impl Gen<'_> {
    pub(super) fn block(&mut self, stmts: &[Stmt]) -> R<()> {
        let mut lets = alloc::vec::Vec::new();
        for s in stmts {
            if let Stmt::Let(v, _) = s {
                lets.push(*v);
            }
            self.stmt(s)?;
        }
        for v in lets {
            if let Some(slot) = self.vars[v as usize].take() {
                self.free(slot);
            }
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        match s {
            Stmt::Let(v, e) => {
                self.expr(e)?;
                self.span = e.span;
                let slot = self.alloc()?;
                self.vars[*v as usize] = Some(slot);
                self.store_slot(slot, Reg::R0);
            }
            Stmt::Assign {
                place,
                op,
                value,
                span,
            } => {
                let saved = self.span;
                self.span = *span;
                let r = self.assign(place, *op, value);
                self.span = saved;
                r?;
            }
            Stmt::If(c, t, e) => {
                let (lt, lf, end) = (self.label(), self.label(), self.label());
                self.cond(c, lt, lf)?;
                self.place(lt);
                self.block(t)?;
                if !ends(t) {
                    self.span = c.span;
                    self.ja(end);
                }
                self.place(lf);
                self.block(e)?;
                self.place(end);
            }
            Stmt::For {
                var,
                start,
                end,
                body,
                span,
            } => {
                self.span = *span;
                let slot = self.alloc()?;
                self.vars[*var as usize] = Some(slot);
                self.mov_imm(Reg::R0, *start);
                self.store_slot(slot, Reg::R0);
                let (head, cont, brk) = (self.label(), self.label(), self.label());
                self.place(head);
                self.load_slot(Reg::R0, slot);
                self.jmp_k(JmpCond::Ge, Reg::R0, *end, brk);
                self.loops.push((cont, brk));
                self.block(body)?;
                self.loops.pop();
                self.span = *span;
                self.place(cont);
                self.load_slot(Reg::R0, slot);
                self.alu_k(crate::bpf::AluOp::Add, Reg::R0, 1);
                self.store_slot(slot, Reg::R0);
                self.ja(head);
                self.place(brk);
                self.vars[*var as usize] = None;
                self.free(slot);
            }
            Stmt::Break(span) | Stmt::Continue(span) => {
                self.span = *span;
                let &(cont, brk) = self.loops.last().expect("checked: inside a loop");
                self.ja(if matches!(s, Stmt::Break(_)) {
                    brk
                } else {
                    cont
                });
            }
            Stmt::Return(v, span) => {
                self.span = *span;
                self.mov_imm(Reg::R0, *v);
                self.op(Op::Exit);
            }
            Stmt::Eval(e) => self.expr(e)?,
        }
        Ok(())
    }

    fn assign(&mut self, place: &Place, op: Option<BinOp>, value: &Expr) -> R<()> {
        if let Place::Var(v) = place {
            let slot = self.vars[*v as usize].expect("a variable in scope has a slot");
            match op {
                None => self.expr(value)?,
                Some(op) => {
                    let cur = Expr {
                        kind: ExprKind::Var(*v),
                        span: self.span,
                    };
                    let sum = Expr {
                        kind: ExprKind::Bin(
                            op,
                            alloc::boxed::Box::new(cur),
                            alloc::boxed::Box::new(value.clone()),
                        ),
                        span: self.span,
                    };
                    self.expr(&sum)?;
                }
            }
            self.store_slot(slot, Reg::R0);
            return Ok(());
        }
        // The value first (it may call helpers), then the address.
        self.expr(value)?;
        let v = self.alloc()?;
        self.store_slot(v, Reg::R0);
        let (max, bytes) = self.place_ptr(place)?;
        let fb = self.fallback;
        if let Some(op) = op {
            let p = self.alloc()?;
            self.store_slot(p, Reg::R2);
            self.load_place(place, bytes);
            self.mov(Reg::R1, Reg::R0);
            self.load_slot(Reg::R0, v);
            self.op_rr(op);
            self.mov(Reg::R1, Reg::R0);
            self.load_slot(Reg::R2, p);
            self.free(p);
        } else {
            self.load_slot(Reg::R1, v);
        }
        self.free(v);
        if max < u64::MAX {
            self.jmp_k(JmpCond::Gt, Reg::R1, max, fb);
        }
        match place {
            Place::Field { field, .. } => self.store_field(field),
            Place::Raw { size, .. } => self.store_be(*size),
            Place::Elem { elem, .. } => self.store(size_of(*elem), Reg::R2, 0, Reg::R1),
            Place::Var(_) => unreachable!("handled above"),
        }
        Ok(())
    }

    /// r2 = the address of `place`; returns the largest value it holds and
    /// its width in bytes.
    fn place_ptr(&mut self, place: &Place) -> R<(u64, u8)> {
        match place {
            Place::Field {
                region,
                layer,
                field,
            } => {
                self.access(
                    Mem::Region(*region),
                    Some(*layer),
                    Off::Const(field.off as u64),
                    field.bytes,
                )?;
                Ok((field.max(), field.bytes))
            }
            Place::Raw {
                region,
                layer,
                off,
                size,
            } => {
                let off = self.offset_operand(off)?;
                self.access(Mem::Region(*region), *layer, off, *size)?;
                if let Off::Slot(s) = off {
                    self.free(s);
                }
                Ok((max_of(*size), *size))
            }
            Place::Elem {
                region,
                elem,
                index,
            } => {
                self.elem_ptr(*region, *elem, index)?;
                Ok((max_of(*elem), *elem))
            }
            Place::Var(_) => unreachable!("variables have no address"),
        }
    }

    /// r0 = the current value of `place` at r2.
    fn load_place(&mut self, place: &Place, bytes: u8) {
        match place {
            Place::Field { field, .. } => self.load_field(field),
            Place::Raw { .. } => self.load_be(bytes),
            _ => self.load(size_of(bytes), Reg::R0, Reg::R2, 0),
        }
    }

    /// Evaluates `args` into stack slots (in order).
    fn spill_args(&mut self, args: &[&Expr]) -> R<alloc::vec::Vec<i16>> {
        let mut slots = alloc::vec::Vec::new();
        for a in args {
            self.expr(a)?;
            let s = self.alloc()?;
            self.store_slot(s, Reg::R0);
            slots.push(s);
        }
        Ok(slots)
    }

    pub(super) fn helper_call(&mut self, c: &Call) -> R<()> {
        let fb = self.fallback;
        match c {
            Call::Now => self.call(helper::KTIME_NS),
            Call::Wake => self.call(helper::WAKE_OWNER),
            Call::Count { counter, delta } => {
                match delta {
                    Some(d) => {
                        self.expr(d)?;
                        self.mov(Reg::R2, Reg::R0);
                    }
                    None => self.mov_imm(Reg::R2, 1),
                }
                self.mov_imm(Reg::R1, *counter as u64);
                self.call(helper::COUNTER_ADD);
            }
            Call::Copy {
                region,
                region_off,
                pkt_off,
                len,
                csum,
                seed,
            } => {
                let mut args = alloc::vec![&**region_off, &**pkt_off, &**len];
                if let Some(s) = seed {
                    args.push(s);
                }
                let slots = self.spill_args(&args)?;
                self.mov_imm(Reg::R1, *region as u64);
                for (i, &s) in slots.iter().enumerate() {
                    self.load_slot(Reg::new(i as u8 + 2).expect("r2..r5"), s);
                    self.free(s);
                }
                if *csum && seed.is_none() {
                    self.mov_imm(Reg::R5, 0);
                }
                self.call(if *csum {
                    helper::COPY_TO_REGION_CSUM
                } else {
                    helper::COPY_TO_REGION
                });
                self.jmp_k(JmpCond::Slt, Reg::R0, 0, fb);
            }
            Call::Send { region, len } => {
                self.expr(len)?;
                let max = (self.region(*region).size as u64).min(MAX_FRAME_LEN as u64);
                self.jmp_k(JmpCond::Lt, Reg::R0, 1, fb);
                self.jmp_k(JmpCond::Gt, Reg::R0, max, fb);
                self.mov(Reg::R2, Reg::R0);
                self.region_ptr(Reg::R1, *region);
                self.call(helper::SEND_FRAME);
                self.jmp_k(JmpCond::Slt, Reg::R0, 0, fb);
            }
            Call::Checksum {
                region,
                off,
                off_max,
                len,
                seed,
            } => {
                let mut args = alloc::vec![&**off, &**len];
                if let Some(s) = seed {
                    args.push(s);
                }
                let slots = self.spill_args(&args)?;
                let size = self.region(*region).size as u64;
                self.load_slot(Reg::R0, slots[0]);
                self.jmp_k(JmpCond::Gt, Reg::R0, *off_max, fb);
                self.region_ptr(Reg::R1, *region);
                self.alu(crate::bpf::AluOp::Add, Reg::R1, Reg::R0);
                self.load_slot(Reg::R2, slots[1]);
                self.jmp_k(JmpCond::Lt, Reg::R2, 1, fb);
                self.jmp_k(JmpCond::Gt, Reg::R2, size - off_max, fb);
                match slots.get(2) {
                    Some(&s) => self.load_slot(Reg::R3, s),
                    None => self.mov_imm(Reg::R3, 0),
                }
                for s in slots {
                    self.free(s);
                }
                self.call(helper::CHECKSUM);
            }
        }
        Ok(())
    }
}

/// Whether control never leaves the end of `stmts` (it returns, breaks or
/// continues on every path).
fn ends(stmts: &[Stmt]) -> bool {
    match stmts.last() {
        Some(Stmt::Return(..) | Stmt::Break(_) | Stmt::Continue(_)) => true,
        Some(Stmt::If(_, t, e)) => ends(t) && ends(e),
        _ => false,
    }
}
