//! Atomic read-modify-write operations.

use super::Pass;
use crate::handler::regmap::{SCRATCH_A, SCRATCH_B, SCRATCH_C};
use crate::x86::{AluRR, Asm, Cond, Mem, OpSize, Reg};
use filter_lang::bpf::AtomicOp;

impl Pass<'_> {
    pub(super) fn atomic(&mut self, sz: OpSize, op: AtomicOp, m: Mem, s: Reg) {
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
}
