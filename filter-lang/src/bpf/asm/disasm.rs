//! The disassembler: the uBPF/bpf_conformance syntax the assembler reads
//! (`mov %r0, 1`, `ldxh %r3, [%r1+12]`, `jeq %r1, 5, L7`).
//!
//! [`Op`]'s `Display` prints one instruction with numeric jump offsets
//! (`+3`); [`disassemble`] prints a whole program with `L<pc>:` labels at
//! jump targets. Either output assembles back to the same words.

use crate::bpf::insn::Insn;
use crate::bpf::op::{AluOp, AtomicOp, EndKind, JmpCond, Op, Operand, Reg, Size, Width};
use alloc::collections::BTreeSet;
use alloc::string::String;
use core::fmt::{self, Write};

/// Register operand syntax: `%rN`.
struct R(Reg);

impl fmt::Display for R {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%r{}", self.0.num())
    }
}

/// A 32-bit immediate: decimal when small, else hex of its 32 bits.
struct Imm(i32);

impl fmt::Display for Imm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if (-4096..=4096).contains(&self.0) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{:#x}", self.0 as u32)
        }
    }
}

struct Opnd(Operand);

impl fmt::Display for Opnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Operand::Reg(r) => write!(f, "{}", R(r)),
            Operand::Imm(v) => write!(f, "{}", Imm(v)),
        }
    }
}

/// A memory operand `[%rN+off]`.
struct Mem(Reg, i16);

impl fmt::Display for Mem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            0 => write!(f, "[{}]", R(self.0)),
            o if o < 0 => write!(f, "[{}-{}]", R(self.0), -(o as i32)),
            o => write!(f, "[{}+{}]", R(self.0), o),
        }
    }
}

/// A relative jump offset `+N`/`-N`.
struct Rel(i64);

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "+{}", self.0)
        }
    }
}

fn size_suffix(s: Size) -> &'static str {
    match s {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

fn w32(w: Width) -> &'static str {
    match w {
        Width::W32 => "32",
        Width::W64 => "",
    }
}

/// The mnemonic of a binary ALU operation without width suffix.
pub(crate) fn alu_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Sub => "sub",
        AluOp::Mul => "mul",
        AluOp::Div => "div",
        AluOp::SDiv => "sdiv",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Lsh => "lsh",
        AluOp::Rsh => "rsh",
        AluOp::Mod => "mod",
        AluOp::SMod => "smod",
        AluOp::Xor => "xor",
        AluOp::Mov | AluOp::MovSx(_) => "mov",
        AluOp::Arsh => "arsh",
    }
}

/// The mnemonic of a jump condition without width suffix.
pub(crate) fn cond_name(c: JmpCond) -> &'static str {
    match c {
        JmpCond::Eq => "jeq",
        JmpCond::Gt => "jgt",
        JmpCond::Ge => "jge",
        JmpCond::Set => "jset",
        JmpCond::Ne => "jne",
        JmpCond::Sgt => "jsgt",
        JmpCond::Sge => "jsge",
        JmpCond::Lt => "jlt",
        JmpCond::Le => "jle",
        JmpCond::Slt => "jslt",
        JmpCond::Sle => "jsle",
    }
}

/// Writes `op` with its jump target rendered by `target` (given the
/// relative offset).
fn write_op(f: &mut dyn Write, op: &Op, target: &dyn Fn(i64) -> Option<String>) -> fmt::Result {
    let tgt = |rel: i64| target(rel).unwrap_or_else(|| alloc::format!("{}", Rel(rel)));
    match *op {
        Op::Alu {
            width,
            op: AluOp::MovSx(bits),
            dst,
            src,
        } => {
            let to = if width == Width::W32 { 32 } else { 64 };
            write!(f, "movsx{bits}{to} {}, {}", R(dst), Opnd(src))
        }
        Op::Alu {
            width,
            op,
            dst,
            src,
        } => write!(
            f,
            "{}{} {}, {}",
            alu_name(op),
            w32(width),
            R(dst),
            Opnd(src)
        ),
        Op::Neg { width, dst } => write!(f, "neg{} {}", w32(width), R(dst)),
        Op::End { kind, bits, dst } => {
            let k = match kind {
                EndKind::ToLe => "le",
                EndKind::ToBe => "be",
                EndKind::Swap => "bswap",
            };
            write!(f, "{k}{bits} {}", R(dst))
        }
        Op::LoadImm64 { dst, imm } => {
            if imm <= 4096 {
                write!(f, "lddw {}, {imm}", R(dst))
            } else {
                write!(f, "lddw {}, {imm:#x}", R(dst))
            }
        }
        Op::Load {
            size,
            sign_extend,
            dst,
            base,
            off,
        } => {
            let s = if sign_extend { "s" } else { "" };
            write!(
                f,
                "ldx{s}{} {}, {}",
                size_suffix(size),
                R(dst),
                Mem(base, off)
            )
        }
        Op::Store {
            size,
            base,
            off,
            src: Operand::Imm(v),
        } => write!(f, "st{} {}, {}", size_suffix(size), Mem(base, off), Imm(v)),
        Op::Store {
            size,
            base,
            off,
            src: Operand::Reg(r),
        } => write!(f, "stx{} {}, {}", size_suffix(size), Mem(base, off), R(r)),
        Op::Atomic {
            size,
            op,
            base,
            off,
            src,
        } => {
            let w = if size == Size::W { "32" } else { "" };
            let (fetch, name) = match op {
                AtomicOp::Add { fetch } => (fetch, "add"),
                AtomicOp::Or { fetch } => (fetch, "or"),
                AtomicOp::And { fetch } => (fetch, "and"),
                AtomicOp::Xor { fetch } => (fetch, "xor"),
                AtomicOp::Xchg => (false, "xchg"),
                AtomicOp::CmpXchg => (false, "cmpxchg"),
            };
            let fetch = if fetch { "fetch " } else { "" };
            write!(f, "lock {fetch}{name}{w} {}, {}", Mem(base, off), R(src))
        }
        Op::LegacyPacketLoad { size, index, imm } => match index {
            Some(r) => write!(f, "ldind{} {}, {}", size_suffix(size), R(r), Imm(imm)),
            None => write!(f, "ldabs{} {}", size_suffix(size), Imm(imm)),
        },
        Op::Ja { off, long } => {
            let m = if long { "ja32" } else { "ja" };
            write!(f, "{m} {}", tgt(off as i64))
        }
        Op::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => write!(
            f,
            "{}{} {}, {}, {}",
            cond_name(cond),
            w32(width),
            R(dst),
            Opnd(src),
            tgt(off as i64)
        ),
        Op::CallHelper { id } => write!(f, "call {id}"),
        Op::CallReg { reg } => write!(f, "call {}", R(reg)),
        Op::CallLocal { off } => write!(f, "call local {}", tgt(off as i64)),
        Op::Exit => write!(f, "exit"),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_op(f, self, &|_| None)
    }
}

/// Disassembles a whole program, one instruction per line, with `L<pc>:`
/// labels at jump and call targets. Words that do not decode are printed as
/// `.word 0x...` with the reason in a comment, so the output always
/// assembles back to exactly `words`.
pub fn disassemble(words: &[Insn]) -> String {
    // First pass: decoded ops and the targets that deserve labels.
    let mut ops = alloc::vec::Vec::new();
    let mut starts = BTreeSet::new();
    let mut pc = 0;
    while pc < words.len() {
        let op = Op::decode(words, pc);
        starts.insert(pc);
        let n = op.as_ref().map_or(1, |o| o.words());
        ops.push((pc, op));
        pc += n;
    }
    let mut labels = BTreeSet::new();
    for (pc, op) in &ops {
        if let Ok(op) = op
            && let Some(t) = op.branch_target(*pc)
            && t >= 0
            && starts.contains(&(t as usize))
        {
            labels.insert(t as usize);
        }
    }
    let mut out = String::new();
    for (pc, op) in ops {
        if labels.contains(&pc) {
            let _ = writeln!(out, "L{pc}:");
        }
        out.push_str("    ");
        match op {
            Ok(op) => {
                let label = |rel: i64| {
                    let t = pc as i64 + 1 + rel;
                    (t >= 0 && labels.contains(&(t as usize))).then(|| alloc::format!("L{t}"))
                };
                let _ = write_op(&mut out, &op, &label);
            }
            Err(e) => {
                let _ = write!(out, ".word {:#018x}  # {e}", words[pc].to_u64());
            }
        }
        out.push('\n');
    }
    out
}
