//! The assembler proper: text to instruction words, two passes (encode with
//! placeholder targets, then resolve labels).

use crate::bpf::insn::Insn;
use crate::bpf::op::{AluOp, AtomicOp, EndKind, JmpCond, Op, Operand, Reg, Size, Width};
use crate::bpf::program::{Program, Span};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// What is wrong with a line of assembly.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum AsmErrorKind {
    /// The mnemonic is not one this assembler knows.
    UnknownMnemonic(String),
    /// Wrong number of operands.
    OperandCount {
        mnemonic: String,
        expected: usize,
        found: usize,
    },
    /// Not a register `%r0`..`%r10`.
    BadRegister(String),
    /// Not a number (decimal or `0x` hex, optionally signed).
    BadNumber(String),
    /// A number that does not fit the field.
    OutOfRange { value: String, field: &'static str },
    /// Not a memory operand `[%rN+off]`.
    BadMemoryOperand(String),
    /// Not a jump target (label, `+N` or `-N`).
    BadTarget(String),
    /// The label is defined twice.
    DuplicateLabel(String),
    /// The label is not defined anywhere.
    UndefinedLabel(String),
    /// The label is too far away for the instruction's offset field.
    TargetTooFar(String),
    /// Not a valid label name.
    BadLabel(String),
}

/// An assembly error at a source line (1-based).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AsmError {
    pub line: u32,
    pub kind: AsmErrorKind,
}

impl fmt::Display for AsmErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmErrorKind::UnknownMnemonic(m) => write!(f, "unknown mnemonic `{m}`"),
            AsmErrorKind::OperandCount {
                mnemonic,
                expected,
                found,
            } => write!(f, "`{mnemonic}` takes {expected} operand(s), found {found}"),
            AsmErrorKind::BadRegister(s) => write!(f, "`{s}` is not a register (%r0..%r10)"),
            AsmErrorKind::BadNumber(s) => {
                write!(f, "`{s}` is not a number (decimal or 0x hex)")
            }
            AsmErrorKind::OutOfRange { value, field } => {
                write!(f, "{value} does not fit the {field}")
            }
            AsmErrorKind::BadMemoryOperand(s) => {
                write!(f, "`{s}` is not a memory operand like [%r1+8]")
            }
            AsmErrorKind::BadTarget(s) => {
                write!(f, "`{s}` is not a jump target (a label, +N or -N)")
            }
            AsmErrorKind::DuplicateLabel(l) => write!(f, "label `{l}` is defined twice"),
            AsmErrorKind::UndefinedLabel(l) => write!(f, "label `{l}` is not defined"),
            AsmErrorKind::TargetTooFar(l) => {
                write!(f, "label `{l}` is too far for this instruction's offset")
            }
            AsmErrorKind::BadLabel(l) => write!(f, "`{l}` is not a valid label name"),
        }
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl core::error::Error for AsmError {}

/// A jump target before resolution.
enum Target {
    Rel(i64),
    Label(String),
}

/// An instruction whose target is resolved after the first pass.
struct Pending {
    word: usize,
    line: u32,
    target: Target,
}

struct Asm {
    words: Vec<Insn>,
    spans: Vec<Option<Span>>,
    labels: BTreeMap<String, usize>,
    pending: Vec<Pending>,
    first_exit: Option<usize>,
}

type R<T> = Result<T, AsmErrorKind>;

fn strip_comment(line: &str) -> &str {
    let mut end = line.len();
    for pat in ["#", ";", "//"] {
        if let Some(i) = line.find(pat) {
            end = end.min(i);
        }
    }
    &line[..end]
}

fn is_label(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_' || ch == '.')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.')
}

fn reg(s: &str) -> R<Reg> {
    let n = s
        .strip_prefix("%r")
        .or_else(|| s.strip_prefix('r'))
        .ok_or_else(|| AsmErrorKind::BadRegister(s.to_string()))?;
    if n.is_empty() || n.len() > 2 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AsmErrorKind::BadRegister(s.to_string()));
    }
    n.parse::<u8>()
        .ok()
        .and_then(Reg::new)
        .ok_or_else(|| AsmErrorKind::BadRegister(s.to_string()))
}

/// Parses a signed decimal or `0x` hex number.
fn number(s: &str) -> R<i128> {
    let bad = || AsmErrorKind::BadNumber(s.to_string());
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 20 {
            return Err(bad());
        }
        i128::from_str_radix(h, 16).map_err(|_| bad())?
    } else {
        if body.is_empty() || body.len() > 24 || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        body.parse::<i128>().map_err(|_| bad())?
    };
    Ok(if neg { -v } else { v })
}

/// A 32-bit immediate: anything in `i32::MIN..=u32::MAX`, kept as its low 32
/// bits.
fn imm32(s: &str) -> R<i32> {
    let v = number(s)?;
    if v < i32::MIN as i128 || v > u32::MAX as i128 {
        return Err(AsmErrorKind::OutOfRange {
            value: s.to_string(),
            field: "32-bit immediate",
        });
    }
    Ok(v as u32 as i32)
}

fn imm64(s: &str) -> R<u64> {
    let v = number(s)?;
    if v < i64::MIN as i128 || v > u64::MAX as i128 {
        return Err(AsmErrorKind::OutOfRange {
            value: s.to_string(),
            field: "64-bit immediate",
        });
    }
    Ok(v as u64)
}

fn operand(s: &str) -> R<Operand> {
    if s.starts_with('%') || (s.starts_with('r') && reg(s).is_ok()) {
        Ok(Operand::Reg(reg(s)?))
    } else {
        Ok(Operand::Imm(imm32(s)?))
    }
}

/// `[%rN]`, `[%rN+off]`, `[%rN-off]` (spaces allowed inside).
fn mem(s: &str) -> R<(Reg, i16)> {
    let bad = || AsmErrorKind::BadMemoryOperand(s.to_string());
    let inner: String = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .ok_or_else(bad)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    match inner.find(['+', '-']) {
        None => Ok((reg(&inner).map_err(|_| bad())?, 0)),
        Some(i) => {
            let r = reg(&inner[..i]).map_err(|_| bad())?;
            let sign = &inner[i..i + 1];
            let body = &inner[i + 1..];
            if body.starts_with(['+', '-']) {
                return Err(bad());
            }
            let v = number(body)?;
            let v = if sign == "-" { -v } else { v };
            if v < i16::MIN as i128 || v > i16::MAX as i128 {
                return Err(AsmErrorKind::OutOfRange {
                    value: s.to_string(),
                    field: "16-bit offset",
                });
            }
            Ok((r, v as i16))
        }
    }
}

fn target(s: &str) -> R<Target> {
    if s.starts_with(['+', '-']) || s.starts_with(|c: char| c.is_ascii_digit()) {
        let v = number(s).map_err(|_| AsmErrorKind::BadTarget(s.to_string()))?;
        if v < i32::MIN as i128 || v > i32::MAX as i128 {
            return Err(AsmErrorKind::OutOfRange {
                value: s.to_string(),
                field: "jump offset",
            });
        }
        Ok(Target::Rel(v as i64))
    } else if is_label(s) {
        Ok(Target::Label(s.to_string()))
    } else {
        Err(AsmErrorKind::BadTarget(s.to_string()))
    }
}

fn size_of(s: &str) -> Option<Size> {
    match s {
        "b" => Some(Size::B),
        "h" => Some(Size::H),
        "w" => Some(Size::W),
        "dw" => Some(Size::DW),
        _ => None,
    }
}

fn alu_op(s: &str) -> Option<AluOp> {
    Some(match s {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::SDiv,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "mod" => AluOp::Mod,
        "smod" => AluOp::SMod,
        "xor" => AluOp::Xor,
        "mov" => AluOp::Mov,
        "arsh" => AluOp::Arsh,
        _ => return None,
    })
}

fn jmp_cond(s: &str) -> Option<JmpCond> {
    Some(match s {
        "jeq" => JmpCond::Eq,
        "jgt" => JmpCond::Gt,
        "jge" => JmpCond::Ge,
        "jset" => JmpCond::Set,
        "jne" => JmpCond::Ne,
        "jsgt" => JmpCond::Sgt,
        "jsge" => JmpCond::Sge,
        "jlt" => JmpCond::Lt,
        "jle" => JmpCond::Le,
        "jslt" => JmpCond::Slt,
        "jsle" => JmpCond::Sle,
        _ => return None,
    })
}

/// Splits `name32` into (`name`, 32-bit) or returns (`name`, 64-bit).
fn width_of(m: &str) -> (&str, Width) {
    match m.strip_suffix("32") {
        Some(base) => (base, Width::W32),
        None => (m, Width::W64),
    }
}

/// One parsed instruction: the op, and the target still to resolve.
enum Parsed {
    Op(Op, Option<Target>),
    Word(Insn),
}

fn expect(m: &str, ops: &[&str], n: usize) -> R<()> {
    if ops.len() == n {
        Ok(())
    } else {
        Err(AsmErrorKind::OperandCount {
            mnemonic: m.to_string(),
            expected: n,
            found: ops.len(),
        })
    }
}

fn parse_insn(m: &str, ops: &[&str]) -> R<Parsed> {
    let unknown = || AsmErrorKind::UnknownMnemonic(m.to_string());
    let op = |o: Op| Ok(Parsed::Op(o, None));
    match m {
        "exit" => {
            expect(m, ops, 0)?;
            return op(Op::Exit);
        }
        ".word" => {
            expect(m, ops, 1)?;
            return Ok(Parsed::Word(Insn::from_u64(imm64(ops[0])?)));
        }
        "lddw" => {
            expect(m, ops, 2)?;
            return op(Op::LoadImm64 {
                dst: reg(ops[0])?,
                imm: imm64(ops[1])?,
            });
        }
        "ja" | "ja32" => {
            expect(m, ops, 1)?;
            return Ok(Parsed::Op(
                Op::Ja {
                    off: 0,
                    long: m == "ja32",
                },
                Some(target(ops[0])?),
            ));
        }
        "call" => {
            return match ops {
                ["local", t] => Ok(Parsed::Op(Op::CallLocal { off: 0 }, Some(target(t)?))),
                ["helper", id] => op(Op::CallHelper { id: imm32(id)? }),
                [x] if x.starts_with('%') || reg(x).is_ok() => op(Op::CallReg { reg: reg(x)? }),
                [id] => op(Op::CallHelper { id: imm32(id)? }),
                _ => Err(AsmErrorKind::OperandCount {
                    mnemonic: m.to_string(),
                    expected: 1,
                    found: ops.len(),
                }),
            };
        }
        _ => {}
    }
    if let Some(rest) = m.strip_prefix("movsx") {
        let (from, to) = match rest {
            "832" => (8, Width::W32),
            "864" => (8, Width::W64),
            "1632" => (16, Width::W32),
            "1664" => (16, Width::W64),
            "3264" => (32, Width::W64),
            _ => return Err(unknown()),
        };
        expect(m, ops, 2)?;
        return op(Op::Alu {
            width: to,
            op: AluOp::MovSx(from),
            dst: reg(ops[0])?,
            src: Operand::Reg(reg(ops[1])?),
        });
    }
    for (prefix, kind) in [
        ("le", EndKind::ToLe),
        ("be", EndKind::ToBe),
        ("bswap", EndKind::Swap),
        ("swap", EndKind::Swap),
    ] {
        if let Some(bits) = m.strip_prefix(prefix)
            && let Ok(bits @ (16 | 32 | 64)) = bits.parse::<u8>()
        {
            expect(m, ops, 1)?;
            return op(Op::End {
                kind,
                bits,
                dst: reg(ops[0])?,
            });
        }
    }
    let (base, width) = width_of(m);
    if base == "neg" {
        expect(m, ops, 1)?;
        return op(Op::Neg {
            width,
            dst: reg(ops[0])?,
        });
    }
    if let Some(aop) = alu_op(base) {
        expect(m, ops, 2)?;
        return op(Op::Alu {
            width,
            op: aop,
            dst: reg(ops[0])?,
            src: operand(ops[1])?,
        });
    }
    if let Some(cond) = jmp_cond(base) {
        expect(m, ops, 3)?;
        return Ok(Parsed::Op(
            Op::Jmp {
                width,
                cond,
                dst: reg(ops[0])?,
                src: operand(ops[1])?,
                off: 0,
            },
            Some(target(ops[2])?),
        ));
    }
    if let Some(s) = m.strip_prefix("ldxs").and_then(size_of) {
        expect(m, ops, 2)?;
        if s == Size::DW {
            return Err(unknown());
        }
        let (b, off) = mem(ops[1])?;
        return op(Op::Load {
            size: s,
            sign_extend: true,
            dst: reg(ops[0])?,
            base: b,
            off,
        });
    }
    if let Some(s) = m.strip_prefix("ldx").and_then(size_of) {
        expect(m, ops, 2)?;
        let (b, off) = mem(ops[1])?;
        return op(Op::Load {
            size: s,
            sign_extend: false,
            dst: reg(ops[0])?,
            base: b,
            off,
        });
    }
    if let Some(s) = m.strip_prefix("stx").and_then(size_of) {
        expect(m, ops, 2)?;
        let (b, off) = mem(ops[0])?;
        return op(Op::Store {
            size: s,
            base: b,
            off,
            src: Operand::Reg(reg(ops[1])?),
        });
    }
    if let Some(s) = m.strip_prefix("st").and_then(size_of) {
        expect(m, ops, 2)?;
        let (b, off) = mem(ops[0])?;
        return op(Op::Store {
            size: s,
            base: b,
            off,
            src: Operand::Imm(imm32(ops[1])?),
        });
    }
    if let Some(s) = m.strip_prefix("ldabs").and_then(size_of) {
        expect(m, ops, 1)?;
        if s == Size::DW {
            return Err(unknown());
        }
        return op(Op::LegacyPacketLoad {
            size: s,
            index: None,
            imm: imm32(ops[0])?,
        });
    }
    if let Some(s) = m.strip_prefix("ldind").and_then(size_of) {
        expect(m, ops, 2)?;
        if s == Size::DW {
            return Err(unknown());
        }
        return op(Op::LegacyPacketLoad {
            size: s,
            index: Some(reg(ops[0])?),
            imm: imm32(ops[1])?,
        });
    }
    Err(unknown())
}

/// `lock [fetch] op[32] [%rN+off], %rM`: `words` are the space-separated
/// tokens after `lock` up to the operands.
fn parse_lock(head: &[&str], ops: &[&str]) -> R<Op> {
    let (fetch, name) = match head {
        ["fetch", name] => (true, *name),
        [name] => (false, *name),
        _ => return Err(AsmErrorKind::UnknownMnemonic(head.join(" "))),
    };
    let (base, width) = width_of(name);
    let size = if width == Width::W32 {
        Size::W
    } else {
        Size::DW
    };
    let aop = match (base, fetch) {
        ("add", f) => AtomicOp::Add { fetch: f },
        ("or", f) => AtomicOp::Or { fetch: f },
        ("and", f) => AtomicOp::And { fetch: f },
        ("xor", f) => AtomicOp::Xor { fetch: f },
        ("xchg", _) => AtomicOp::Xchg,
        ("cmpxchg", _) => AtomicOp::CmpXchg,
        _ => {
            return Err(AsmErrorKind::UnknownMnemonic(alloc::format!(
                "lock {}",
                head.join(" ")
            )));
        }
    };
    expect("lock", ops, 2)?;
    let (b, off) = mem(ops[0])?;
    Ok(Op::Atomic {
        size,
        op: aop,
        base: b,
        off,
        src: reg(ops[1])?,
    })
}

impl Asm {
    fn line(&mut self, lineno: u32, raw: &str) -> R<()> {
        let mut text = strip_comment(raw).trim();
        // Labels: `name:` possibly followed by an instruction.
        while let Some(i) = text.find(':') {
            let (l, rest) = (text[..i].trim(), &text[i + 1..]);
            if !is_label(l) {
                return Err(AsmErrorKind::BadLabel(l.to_string()));
            }
            if self
                .labels
                .insert(l.to_string(), self.words.len())
                .is_some()
            {
                return Err(AsmErrorKind::DuplicateLabel(l.to_string()));
            }
            text = rest.trim();
        }
        if text.is_empty() {
            return Ok(());
        }
        let col = (raw.len() - raw.trim_start().len()) as u32 + 1;
        let (m, rest) = match text.find(char::is_whitespace) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        let m_lower = m.to_ascii_lowercase();
        let parsed = if m_lower == "lock" {
            // Mnemonic words run until the first operand (which starts with `[`).
            let split = rest.find('[').unwrap_or(rest.len());
            let head: Vec<&str> = rest[..split].split_whitespace().collect();
            let ops = split_operands(&rest[split..]);
            Parsed::Op(parse_lock(&head, &ops)?, None)
        } else {
            let ops = split_operands(rest);
            parse_insn(&m_lower, &ops)?
        };
        let span = Some(Span { line: lineno, col });
        match parsed {
            Parsed::Word(w) => {
                self.words.push(w);
                self.spans.push(span);
            }
            Parsed::Op(op, tgt) => {
                if matches!(op, Op::Exit) && self.first_exit.is_none() {
                    self.first_exit = Some(self.words.len());
                }
                if let Some(target) = tgt {
                    self.pending.push(Pending {
                        word: self.words.len(),
                        line: lineno,
                        target,
                    });
                }
                let (w, n) = op.encode();
                for word in &w[..n] {
                    self.words.push(*word);
                    self.spans.push(span);
                }
            }
        }
        Ok(())
    }

    fn resolve(&mut self) -> Result<(), AsmError> {
        for p in core::mem::take(&mut self.pending) {
            let err = |kind| AsmError { line: p.line, kind };
            let rel = match &p.target {
                Target::Rel(r) => *r,
                Target::Label(l) => {
                    let to = match self.labels.get(l) {
                        Some(&t) => t,
                        None if l == "exit" => self
                            .first_exit
                            .ok_or_else(|| err(AsmErrorKind::UndefinedLabel(l.clone())))?,
                        None => return Err(err(AsmErrorKind::UndefinedLabel(l.clone()))),
                    };
                    to as i64 - p.word as i64 - 1
                }
            };
            let name = || match &p.target {
                Target::Label(l) => l.clone(),
                Target::Rel(r) => alloc::format!("{r:+}"),
            };
            let w = &mut self.words[p.word];
            let is_long = w.code
                == (crate::bpf::insn::code::CLASS_JMP32 | crate::bpf::insn::code::JMP_JA)
                || w.code == (crate::bpf::insn::code::CLASS_JMP | crate::bpf::insn::code::JMP_CALL);
            if is_long {
                w.imm = i32::try_from(rel).map_err(|_| err(AsmErrorKind::TargetTooFar(name())))?;
            } else {
                w.off = i16::try_from(rel).map_err(|_| err(AsmErrorKind::TargetTooFar(name())))?;
            }
        }
        Ok(())
    }
}

/// Splits an operand list on commas outside brackets, trimming each.
fn split_operands(s: &str) -> Vec<&str> {
    let s = s.trim();
    if s.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    // `call local label` arrives as one operand with a space: split it.
    if out.len() == 1 && out[0].contains(char::is_whitespace) && !out[0].starts_with('[') {
        return out[0].split_whitespace().collect();
    }
    out
}

/// Assembles `text` into a program whose spans give each word's source line.
pub fn assemble(text: &str) -> Result<Program, AsmError> {
    let mut a = Asm {
        words: Vec::new(),
        spans: Vec::new(),
        labels: BTreeMap::new(),
        pending: Vec::new(),
        first_exit: None,
    };
    for (i, line) in text.lines().enumerate() {
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        a.line(lineno, line)
            .map_err(|kind| AsmError { line: lineno, kind })?;
    }
    a.resolve()?;
    Ok(Program {
        words: a.words,
        spans: a.spans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::asm::disassemble;

    #[test]
    fn assembles_the_conformance_syntax() {
        let p = assemble(
            "mov %r0, 0\n\
             L1: add32 %r0, -1 # comment\n\
             ldxh %r3, [%r1+12]\n\
             stxdw [%r10-8], %r3\n\
             lock fetch add32 [%r10-8], %r1\n\
             jne %r3, 0x81, L1\n\
             call local func\n\
             ja exit\n\
             exit\n\
             func:\n\
             lddw %r0, 0x1122334455667788\n\
             exit\n",
        )
        .unwrap();
        let ops = crate::bpf::op::decode_program(&p.words).unwrap();
        assert_eq!(ops.len(), 11);
        assert_eq!(
            ops[5].1,
            Op::Jmp {
                width: Width::W64,
                cond: JmpCond::Ne,
                dst: Reg::R3,
                src: Operand::Imm(0x81),
                off: -5
            }
        );
        assert_eq!(ops[6].1, Op::CallLocal { off: 2 });
        assert_eq!(
            ops[7].1,
            Op::Ja {
                off: 0,
                long: false
            }
        );
        assert_eq!(p.span(1), Some(Span { line: 2, col: 1 }));
        // Round trip through the disassembler.
        let again = assemble(&disassemble(&p.words)).unwrap();
        assert_eq!(again.words, p.words);
    }

    #[test]
    fn reports_errors_with_lines() {
        let e = assemble("mov %r0, 1\nfoo %r1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.kind, AsmErrorKind::UnknownMnemonic("foo".into()));
        let e = assemble("mov %r11, 1").unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::BadRegister("%r11".into()));
        let e = assemble("ja nowhere").unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::UndefinedLabel("nowhere".into()));
        let e = assemble("mov %r0, 0x100000000").unwrap_err();
        assert!(matches!(e.kind, AsmErrorKind::OutOfRange { .. }));
        let e = assemble("a:\na:\nexit").unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::DuplicateLabel("a".into()));
    }
}
