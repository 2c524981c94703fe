//! The execution loop: RFC 9669 semantics over [`Memory`], one instruction at
//! a time, counting instructions and stopping at a budget.

use super::memory::{Access, HelperView, Memory, Observer};
use crate::bpf::alu;
use crate::bpf::helpers::{HelperFault, HelperOutcome, Helpers, MemFault};
use crate::bpf::insn::Insn;
use crate::bpf::op::{AtomicOp, DecodeError, Op, Operand, Reg, Size, Width, decode_program};
use alloc::vec::Vec;
use core::fmt;

/// Maximum call frames (the main program's included) the interpreter allows
/// unless told otherwise; the verifier enforces the same default.
pub const DEFAULT_MAX_CALL_FRAMES: usize = 8;

/// A decoded program ready to run.
#[derive(Clone, Debug)]
pub struct Interpreter {
    /// `code[pc]`: the op starting at word `pc`, `None` for the second word
    /// of `lddw`.
    code: Vec<Option<Op>>,
}

/// How to run.
pub struct RunOptions<'o> {
    /// Stop with [`RunErrorKind::BudgetExhausted`] after this many
    /// instructions.
    pub budget: Option<u64>,
    /// Sees every memory access, the helpers' included.
    pub observer: Option<&'o mut dyn Observer>,
    /// Maximum call frames, the main program's included.
    pub max_call_frames: usize,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            budget: None,
            observer: None,
            max_call_frames: DEFAULT_MAX_CALL_FRAMES,
        }
    }
}

/// A finished run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Outcome {
    /// r0 at exit (or the value a helper stopped the program with).
    pub r0: u64,
    /// Instructions executed (`lddw` counts once; `exit` and calls count).
    pub executed: u64,
    /// A helper stopped the program ([`HelperOutcome::Exit`]).
    pub unwound: bool,
}

/// Why a run stopped abnormally.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunErrorKind {
    /// A load, store or atomic outside the program's memory (or a store to
    /// read-only memory).
    Memory(MemFault),
    /// A helper aborted.
    Helper(HelperFault),
    /// The instruction budget ran out.
    BudgetExhausted { budget: u64 },
    /// A local call would exceed the maximum number of call frames.
    CallDepth { max_frames: usize },
    /// Control reached a word outside the program.
    JumpOutOfRange { target: i64 },
    /// Control reached the second word of an `lddw`.
    IntoLddw,
    /// Execution ran past the last instruction.
    FellOffEnd,
    /// Legacy packet loads (`ldabs`/`ldind`) are not supported.
    Unsupported,
}

/// A run that stopped abnormally, at instruction `pc`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RunError {
    pub pc: usize,
    pub kind: RunErrorKind,
    /// Instructions executed before the error.
    pub executed: u64,
}

impl fmt::Display for RunErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunErrorKind::Memory(m) => write!(f, "{m}"),
            RunErrorKind::Helper(h) => write!(f, "{h}"),
            RunErrorKind::BudgetExhausted { budget } => {
                write!(f, "instruction budget of {budget} exhausted")
            }
            RunErrorKind::CallDepth { max_frames } => {
                write!(f, "call depth exceeds {max_frames} frames")
            }
            RunErrorKind::JumpOutOfRange { target } => {
                write!(f, "control transfer to word {target}, outside the program")
            }
            RunErrorKind::IntoLddw => write!(f, "control reached the second word of lddw"),
            RunErrorKind::FellOffEnd => write!(f, "execution ran past the last instruction"),
            RunErrorKind::Unsupported => {
                write!(f, "legacy packet loads (ldabs/ldind) are not supported")
            }
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {}: {}", self.pc, self.kind)
    }
}

struct Frame {
    ret_pc: usize,
    saved: [u64; 4],
    fp: u64,
}

impl Interpreter {
    /// Decodes `words`; fails on the first word that is not a valid
    /// instruction (with its index).
    pub fn new(words: &[Insn]) -> Result<Self, (usize, DecodeError)> {
        let mut code = alloc::vec![None; words.len()];
        for (pc, op) in decode_program(words)? {
            code[pc] = Some(op);
        }
        Ok(Interpreter { code })
    }

    /// Program length in words.
    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// Whether the program is empty.
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    /// Runs the program with r1, r2 = `args` over `mem` (which must already
    /// hold the context/buffer/packet/app regions; stack frames are added and
    /// removed here). `mem` is left as it was given, stores aside.
    pub fn run(
        &self,
        mem: &mut Memory<'_>,
        helpers: &mut dyn Helpers,
        args: [u64; 2],
        mut opts: RunOptions<'_>,
    ) -> Result<Outcome, RunError> {
        let regions = mem.regions().len();
        let mut exec = Exec {
            code: &self.code,
            mem,
            observer: opts.observer.take(),
            regs: [0; Reg::COUNT],
            frames: Vec::new(),
            executed: 0,
        };
        let r = exec.run(helpers, args, opts.budget, opts.max_call_frames);
        while exec.mem.regions().len() > regions {
            exec.mem.pop();
        }
        r
    }
}

struct Exec<'c, 'm, 'a, 'o> {
    code: &'c [Option<Op>],
    mem: &'m mut Memory<'a>,
    observer: Option<&'o mut dyn Observer>,
    regs: [u64; Reg::COUNT],
    frames: Vec<Frame>,
    executed: u64,
}

impl Exec<'_, '_, '_, '_> {
    fn operand(&self, o: Operand) -> u64 {
        match o {
            Operand::Reg(r) => self.regs[r.idx()],
            Operand::Imm(v) => alu::imm(v),
        }
    }

    fn observe(&mut self, pc: usize, addr: u64, len: usize, write: bool) {
        if let Some(o) = self.observer.as_deref_mut() {
            o.on_access(&Access {
                pc,
                addr,
                len,
                write,
                region: self.mem.kind_at(addr, len),
                by_helper: false,
            });
        }
    }

    fn load(&mut self, pc: usize, addr: u64, len: usize) -> Result<u64, RunErrorKind> {
        self.observe(pc, addr, len, false);
        self.mem.load(addr, len).map_err(RunErrorKind::Memory)
    }

    fn store(&mut self, pc: usize, addr: u64, len: usize, v: u64) -> Result<(), RunErrorKind> {
        self.observe(pc, addr, len, true);
        self.mem.store(addr, len, v).map_err(RunErrorKind::Memory)
    }

    fn target(&self, pc: usize, rel: i64) -> Result<usize, RunErrorKind> {
        let t = pc as i64 + 1 + rel;
        if t < 0 || t as usize >= self.code.len() {
            return Err(RunErrorKind::JumpOutOfRange { target: t });
        }
        Ok(t as usize)
    }

    fn run(
        &mut self,
        helpers: &mut dyn Helpers,
        args: [u64; 2],
        budget: Option<u64>,
        max_frames: usize,
    ) -> Result<Outcome, RunError> {
        self.regs[1] = args[0];
        self.regs[2] = args[1];
        self.regs[10] = self.mem.push_stack_frame(0);
        let mut pc = 0usize;
        loop {
            if budget.is_some_and(|b| self.executed >= b) {
                return Err(self.error(
                    pc,
                    RunErrorKind::BudgetExhausted {
                        budget: budget.unwrap_or(0),
                    },
                ));
            }
            let op = match self.code.get(pc) {
                Some(Some(op)) => *op,
                Some(None) => return Err(self.error(pc, RunErrorKind::IntoLddw)),
                None => return Err(self.error(pc, RunErrorKind::FellOffEnd)),
            };
            self.executed += 1;
            match self.step(pc, op, helpers, max_frames) {
                Ok(Step::Next(n)) => pc = n,
                Ok(Step::Done { r0, unwound }) => {
                    return Ok(Outcome {
                        r0,
                        executed: self.executed,
                        unwound,
                    });
                }
                Err(kind) => return Err(self.error(pc, kind)),
            }
        }
    }

    fn error(&self, pc: usize, kind: RunErrorKind) -> RunError {
        RunError {
            pc,
            kind,
            executed: self.executed,
        }
    }

    fn step(
        &mut self,
        pc: usize,
        op: Op,
        helpers: &mut dyn Helpers,
        max_frames: usize,
    ) -> Result<Step, RunErrorKind> {
        let next = pc + op.words();
        match op {
            Op::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let s = self.operand(src);
                self.regs[dst.idx()] = alu::alu(width, op, self.regs[dst.idx()], s);
            }
            Op::Neg { width, dst } => self.regs[dst.idx()] = alu::neg(width, self.regs[dst.idx()]),
            Op::End { kind, bits, dst } => {
                self.regs[dst.idx()] = alu::end(kind, bits, self.regs[dst.idx()])
            }
            Op::LoadImm64 { dst, imm } => self.regs[dst.idx()] = imm,
            Op::Load {
                size,
                sign_extend,
                dst,
                base,
                off,
            } => {
                let addr = self.regs[base.idx()].wrapping_add(off as i64 as u64);
                let v = self.load(pc, addr, size.bytes())?;
                self.regs[dst.idx()] = if sign_extend {
                    match size {
                        Size::B => v as i8 as i64 as u64,
                        Size::H => v as i16 as i64 as u64,
                        _ => v as i32 as i64 as u64,
                    }
                } else {
                    v
                };
            }
            Op::Store {
                size,
                base,
                off,
                src,
            } => {
                let addr = self.regs[base.idx()].wrapping_add(off as i64 as u64);
                let v = self.operand(src);
                self.store(pc, addr, size.bytes(), v)?;
            }
            Op::Atomic {
                size,
                op,
                base,
                off,
                src,
            } => self.atomic(pc, size, op, base, off, src)?,
            Op::LegacyPacketLoad { .. } => return Err(RunErrorKind::Unsupported),
            Op::Ja { off, .. } => return Ok(Step::Next(self.target(pc, off as i64)?)),
            Op::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                if alu::cond(width, cond, self.regs[dst.idx()], self.operand(src)) {
                    return Ok(Step::Next(self.target(pc, off as i64)?));
                }
            }
            Op::CallHelper { id } => return self.call_helper(pc, id, helpers, next),
            Op::CallReg { reg } => {
                let v = self.regs[reg.idx()];
                let Ok(id) = i32::try_from(v) else {
                    return Err(RunErrorKind::Helper(HelperFault::UnknownHelper(v as i32)));
                };
                return self.call_helper(pc, id, helpers, next);
            }
            Op::CallLocal { off } => {
                let target = self.target(pc, off as i64)?;
                if self.frames.len() + 1 >= max_frames {
                    return Err(RunErrorKind::CallDepth { max_frames });
                }
                let r = &self.regs;
                self.frames.push(Frame {
                    ret_pc: next,
                    saved: [r[6], r[7], r[8], r[9]],
                    fp: r[10],
                });
                self.regs[10] = self.mem.push_stack_frame(self.frames.len());
                return Ok(Step::Next(target));
            }
            Op::Exit => {
                let Some(f) = self.frames.pop() else {
                    return Ok(Step::Done {
                        r0: self.regs[0],
                        unwound: false,
                    });
                };
                self.mem.pop();
                self.regs[6..10].copy_from_slice(&f.saved);
                self.regs[10] = f.fp;
                return Ok(Step::Next(f.ret_pc));
            }
        }
        Ok(Step::Next(next))
    }

    fn call_helper(
        &mut self,
        pc: usize,
        id: i32,
        helpers: &mut dyn Helpers,
        next: usize,
    ) -> Result<Step, RunErrorKind> {
        let mut args = [0u64; 5];
        args.copy_from_slice(&self.regs[1..6]);
        let mut view = HelperView::new(self.mem, self.observer.as_deref_mut(), pc);
        match helpers.call(id, args, &mut view) {
            HelperOutcome::Return(v) => {
                self.regs[0] = v;
                Ok(Step::Next(next))
            }
            HelperOutcome::Exit(v) => Ok(Step::Done {
                r0: v,
                unwound: true,
            }),
            HelperOutcome::Fault(f) => Err(RunErrorKind::Helper(f)),
        }
    }

    fn atomic(
        &mut self,
        pc: usize,
        size: Size,
        op: AtomicOp,
        base: Reg,
        off: i16,
        src: Reg,
    ) -> Result<(), RunErrorKind> {
        let len = size.bytes();
        let addr = self.regs[base.idx()].wrapping_add(off as i64 as u64);
        let old = self.load(pc, addr, len)?;
        let width = if size == Size::DW {
            Width::W64
        } else {
            Width::W32
        };
        let s = self.regs[src.idx()];
        let trunc = |v: u64| {
            if width == Width::W32 {
                v as u32 as u64
            } else {
                v
            }
        };
        let (new, fetch) = match op {
            AtomicOp::Add { fetch } => (old.wrapping_add(s), fetch),
            AtomicOp::Or { fetch } => (old | s, fetch),
            AtomicOp::And { fetch } => (old & s, fetch),
            AtomicOp::Xor { fetch } => (old ^ s, fetch),
            AtomicOp::Xchg => (s, true),
            AtomicOp::CmpXchg => {
                let r0 = self.regs[0];
                if trunc(r0) == old {
                    self.store(pc, addr, len, s)?;
                }
                self.regs[0] = old;
                return Ok(());
            }
        };
        self.store(pc, addr, len, trunc(new))?;
        if fetch {
            self.regs[src.idx()] = old;
        }
        Ok(())
    }
}

enum Step {
    Next(usize),
    Done { r0: u64, unwound: bool },
}
