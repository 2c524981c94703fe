//! Compilation of a [`Cfg`] to a `packet`-type BPF program, and a runner.
//!
//! Register use: r9 = the context, r6 = `data`, r7 = `data_end`; r0 holds
//! loaded and computed values (as 32-bit numbers), r2..r4 are scratch;
//! intermediate values of arithmetic go to 4-byte stack slots below r10.
//! Every packet load is preceded by `if ptr + width > data_end goto reject`
//! (the pattern the verifier's packet-range tracking accepts); a variable
//! offset is first bounded by `if off > 0xffff goto reject` (no packet is
//! longer, so such a load is out of bounds anyway). Division or modulo by
//! zero rejects and shifts by 32 or more give 0, as in libpcap's BPF. The
//! program returns 1 for a match and 0 otherwise.

use super::ast::ArOp;
use super::cfg::{Base, Cfg, Field, IHL_OFF, Next, Test, Val};
use crate::bpf::helpers::NoHelpers;
use crate::bpf::interp::{Interpreter, RunError, RunOptions, context_and_packet, layout};
use crate::bpf::spec::{Limits, packet_ctx};
use crate::bpf::{AluOp, EndKind, Insn, JmpCond, Op, Operand, Reg, Size, Width};
use crate::filter::FieldWidth;
use alloc::vec::Vec;

const CTX: Reg = Reg::R9;
const DATA: Reg = Reg::R6;
const END: Reg = Reg::R7;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Node(usize),
    Accept,
    Reject,
    /// A local label inside one node's code.
    Local(usize),
}

struct Emitter {
    ops: Vec<Op>,
    /// (op index, target) for jumps to resolve.
    fixups: Vec<(usize, Label)>,
    /// Word index of each label once placed.
    placed: Vec<(Label, usize)>,
    locals: usize,
}

fn alu(width: Width, op: AluOp, dst: Reg, src: Operand) -> Op {
    Op::Alu {
        width,
        op,
        dst,
        src,
    }
}

fn mov64(dst: Reg, src: Reg) -> Op {
    alu(Width::W64, AluOp::Mov, dst, Operand::Reg(src))
}

fn imm(v: u32) -> Operand {
    Operand::Imm(v as i32)
}

impl Emitter {
    fn op(&mut self, op: Op) {
        self.ops.push(op);
    }

    fn place(&mut self, l: Label) {
        self.placed.push((l, self.ops.len()));
    }

    fn local(&mut self) -> Label {
        self.locals += 1;
        Label::Local(self.locals)
    }

    fn jump(&mut self, cond: Option<(JmpCond, Width, Reg, Operand)>, to: Label) {
        self.fixups.push((self.ops.len(), to));
        self.op(match cond {
            None => Op::Ja {
                off: 0,
                long: false,
            },
            Some((cond, width, dst, src)) => Op::Jmp {
                width,
                cond,
                dst,
                src,
                off: 0,
            },
        });
    }

    fn jmp32(&mut self, cond: JmpCond, v: u32, to: Label) {
        self.jump(Some((cond, Width::W32, Reg::R0, imm(v))), to);
    }

    /// `r0 = width bytes at ptr`, after the bounds check; `ptr` is r2.
    fn load_at_r2(&mut self, width: FieldWidth) {
        let w = width.bytes() as u32;
        self.op(mov64(Reg::R3, Reg::R2));
        self.op(alu(Width::W64, AluOp::Add, Reg::R3, imm(w)));
        self.jump(
            Some((JmpCond::Gt, Width::W64, Reg::R3, Operand::Reg(END))),
            Label::Reject,
        );
        let size = match width {
            FieldWidth::B1 => Size::B,
            FieldWidth::B2 => Size::H,
            FieldWidth::B4 => Size::W,
        };
        self.op(Op::Load {
            size,
            sign_extend: false,
            dst: Reg::R0,
            base: Reg::R2,
            off: 0,
        });
        if w > 1 {
            self.op(Op::End {
                kind: EndKind::ToBe,
                bits: (8 * w) as u8,
                dst: Reg::R0,
            });
        }
    }

    /// `r2 = data + base`.
    fn base_to_r2(&mut self, base: Base) {
        self.op(mov64(Reg::R2, DATA));
        if base == Base::Ihl {
            self.op(mov64(Reg::R3, DATA));
            self.op(alu(
                Width::W64,
                AluOp::Add,
                Reg::R3,
                imm(IHL_OFF as u32 + 1),
            ));
            self.jump(
                Some((JmpCond::Gt, Width::W64, Reg::R3, Operand::Reg(END))),
                Label::Reject,
            );
            self.op(Op::Load {
                size: Size::B,
                sign_extend: false,
                dst: Reg::R4,
                base: DATA,
                off: IHL_OFF as i16,
            });
            self.op(alu(Width::W64, AluOp::And, Reg::R4, imm(0x0f)));
            self.op(alu(Width::W64, AluOp::Lsh, Reg::R4, imm(2)));
            self.op(alu(Width::W64, AluOp::Add, Reg::R2, Operand::Reg(Reg::R4)));
        }
    }

    fn field(&mut self, f: &Field) {
        self.base_to_r2(f.base);
        if f.off != 0 {
            self.op(alu(Width::W64, AluOp::Add, Reg::R2, imm(f.off as u32)));
        }
        self.load_at_r2(f.width);
        if f.mask != f.width.full_mask() {
            self.op(alu(Width::W32, AluOp::And, Reg::R0, imm(f.mask)));
        }
    }

    /// Computes `v` into r0; `depth` is the first free stack slot.
    fn val(&mut self, v: &Val, depth: i16) {
        match v {
            Val::Num(n) => self.op(alu(Width::W32, AluOp::Mov, Reg::R0, imm(*n))),
            Val::Len => self.op(Op::Load {
                size: Size::W,
                sign_extend: false,
                dst: Reg::R0,
                base: CTX,
                off: packet_ctx::LEN as i16,
            }),
            Val::Neg(a) => {
                self.val(a, depth);
                self.op(Op::Neg {
                    width: Width::W32,
                    dst: Reg::R0,
                });
            }
            Val::Load {
                base,
                off,
                index,
                width,
            } => {
                self.val(index, depth);
                // r0 is a zero-extended u32; no packet is longer than 0xffff.
                self.jump(
                    Some((JmpCond::Gt, Width::W64, Reg::R0, imm(0xffff))),
                    Label::Reject,
                );
                self.base_to_r2(*base);
                if *off > 0xffff {
                    self.jump(None, Label::Reject);
                    return;
                }
                if *off != 0 {
                    self.op(alu(Width::W64, AluOp::Add, Reg::R2, imm(*off)));
                }
                self.op(alu(Width::W64, AluOp::Add, Reg::R2, Operand::Reg(Reg::R0)));
                self.load_at_r2(*width);
            }
            Val::Bin(op, a, b) => {
                let slot = -4 * (depth + 1);
                self.val(a, depth);
                self.op(Op::Store {
                    size: Size::W,
                    base: Reg::FP,
                    off: slot,
                    src: Operand::Reg(Reg::R0),
                });
                self.val(b, depth + 1);
                self.op(Op::Load {
                    size: Size::W,
                    sign_extend: false,
                    dst: Reg::R2,
                    base: Reg::FP,
                    off: slot,
                });
                let aop = match op {
                    ArOp::Add => AluOp::Add,
                    ArOp::Sub => AluOp::Sub,
                    ArOp::Mul => AluOp::Mul,
                    ArOp::Div => AluOp::Div,
                    ArOp::Mod => AluOp::Mod,
                    ArOp::And => AluOp::And,
                    ArOp::Or => AluOp::Or,
                    ArOp::Xor => AluOp::Xor,
                    ArOp::Shl => AluOp::Lsh,
                    ArOp::Shr => AluOp::Rsh,
                };
                match op {
                    ArOp::Div | ArOp::Mod => self.jmp32(JmpCond::Eq, 0, Label::Reject),
                    ArOp::Shl | ArOp::Shr => {
                        let big = self.local();
                        let done = self.local();
                        self.jmp32(JmpCond::Ge, 32, big);
                        self.op(alu(Width::W32, aop, Reg::R2, Operand::Reg(Reg::R0)));
                        self.op(alu(Width::W32, AluOp::Mov, Reg::R0, Operand::Reg(Reg::R2)));
                        self.jump(None, done);
                        self.place(big);
                        self.op(alu(Width::W32, AluOp::Mov, Reg::R0, imm(0)));
                        self.place(done);
                        return;
                    }
                    _ => {}
                }
                self.op(alu(Width::W32, aop, Reg::R2, Operand::Reg(Reg::R0)));
                self.op(alu(Width::W32, AluOp::Mov, Reg::R0, Operand::Reg(Reg::R2)));
            }
        }
    }
}

/// Why a graph has no bytecode form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BytecodeError {
    /// The program would exceed the verifier's default instruction limit
    /// (`max` words).
    TooLarge { words: usize, max: usize },
}

impl core::fmt::Display for BytecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BytecodeError::TooLarge { words, max } => write!(
                f,
                "the program would have {words} instructions, more than the verifier's limit of {max}; simplify the expression"
            ),
        }
    }
}

/// Compiles `cfg` to a `packet` program returning 1 (match) or 0.
pub fn emit(cfg: &Cfg) -> Result<Vec<Op>, BytecodeError> {
    let mut e = Emitter {
        ops: Vec::new(),
        fixups: Vec::new(),
        placed: Vec::new(),
        locals: 0,
    };
    e.op(mov64(CTX, Reg::R1));
    e.op(Op::Load {
        size: Size::DW,
        sign_extend: false,
        dst: DATA,
        base: Reg::R1,
        off: packet_ctx::DATA as i16,
    });
    e.op(Op::Load {
        size: Size::DW,
        sign_extend: false,
        dst: END,
        base: Reg::R1,
        off: packet_ctx::DATA_END as i16,
    });
    let entry = match cfg.entry {
        Next::Accept => Label::Accept,
        Next::Reject => Label::Reject,
        Next::Node(i) => Label::Node(i),
    };
    e.jump(None, entry);
    let label = |n: Next| match n {
        Next::Accept => Label::Accept,
        Next::Reject => Label::Reject,
        Next::Node(i) => Label::Node(i),
    };
    // Highest index first: the entry is usually last, successors lower.
    for i in (0..cfg.nodes.len()).rev() {
        let n = &cfg.nodes[i];
        e.place(Label::Node(i));
        match &n.test {
            Test::Field { field, set } => {
                e.field(field);
                for &(lo, hi) in set.ranges() {
                    if lo == hi {
                        e.jmp32(JmpCond::Eq, lo, label(n.yes));
                    } else if lo == 0 {
                        e.jmp32(JmpCond::Le, hi, label(n.yes));
                    } else if hi == u32::MAX {
                        e.jmp32(JmpCond::Ge, lo, label(n.yes));
                    } else {
                        let skip = e.local();
                        e.jmp32(JmpCond::Lt, lo, skip);
                        e.jmp32(JmpCond::Le, hi, label(n.yes));
                        e.place(skip);
                    }
                }
                e.jump(None, label(n.no));
            }
            Test::Rel { op, lhs, rhs } => {
                e.val(lhs, 0);
                e.op(Op::Store {
                    size: Size::W,
                    base: Reg::FP,
                    off: -4,
                    src: Operand::Reg(Reg::R0),
                });
                e.val(rhs, 1);
                e.op(Op::Load {
                    size: Size::W,
                    sign_extend: false,
                    dst: Reg::R2,
                    base: Reg::FP,
                    off: -4,
                });
                use super::ast::RelOp;
                let cond = match op {
                    RelOp::Eq => JmpCond::Eq,
                    RelOp::Ne => JmpCond::Ne,
                    RelOp::Lt => JmpCond::Lt,
                    RelOp::Le => JmpCond::Le,
                    RelOp::Gt => JmpCond::Gt,
                    RelOp::Ge => JmpCond::Ge,
                };
                e.jump(
                    Some((cond, Width::W32, Reg::R2, Operand::Reg(Reg::R0))),
                    label(n.yes),
                );
                e.jump(None, label(n.no));
            }
        }
    }
    e.place(Label::Accept);
    e.op(alu(Width::W64, AluOp::Mov, Reg::R0, imm(1)));
    e.op(Op::Exit);
    e.place(Label::Reject);
    e.op(alu(Width::W64, AluOp::Mov, Reg::R0, imm(0)));
    e.op(Op::Exit);
    // Every op here is one word, so op index = word index. Within the
    // verifier's limit every jump also fits 16 bits.
    let words = e.ops.len();
    let max = Limits::default().max_insns;
    if words > max {
        return Err(BytecodeError::TooLarge { words, max });
    }
    for &(at, target) in &e.fixups {
        let to = e
            .placed
            .iter()
            .find(|(l, _)| *l == target)
            .map(|&(_, w)| w)
            .expect("every jump target is placed");
        let rel = to as i64 - at as i64 - 1;
        let off = i16::try_from(rel).map_err(|_| BytecodeError::TooLarge { words, max })?;
        match &mut e.ops[at] {
            Op::Ja { off: o, .. } => *o = off as i32,
            Op::Jmp { off: o, .. } => *o = off,
            _ => unreachable!("fixups point at jumps"),
        }
    }
    Ok(e.ops)
}

/// Encodes ops to instruction words.
pub fn encode(ops: &[Op]) -> Vec<Insn> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let (w, n) = op.encode();
        out.extend_from_slice(&w[..n]);
    }
    out
}

/// Runs a compiled program over one packet with the reference interpreter.
/// `frame` is what the program may read; the context's `len` is `wirelen`
/// (tcpdump's `len`, which may exceed the captured bytes).
pub fn run(interp: &Interpreter, frame: &[u8], wirelen: u32) -> Result<bool, RunError> {
    let mut mem = context_and_packet(frame, wirelen, 0);
    let out = interp.run(
        &mut mem,
        &mut NoHelpers,
        [layout::CONTEXT_BASE, 0],
        RunOptions::default(),
    )?;
    Ok(out.r0 == 1)
}
