//! Decoded BPF instructions: one enum every engine matches on.
//!
//! [`Op::decode`] turns raw words into [`Op`]s and rejects every encoding
//! RFC 9669 does not define (unknown opcodes, non-zero reserved fields,
//! registers above r10, a truncated `lddw`). [`Op::encode`] is its exact
//! inverse for every `Op` it accepts, so assembler and disassembler
//! round-trip.
//!
//! Program counters and jump offsets are counted in instruction *words*, as
//! on the wire: `lddw` occupies two, and a jump offset is relative to the word
//! after the jump.

use super::insn::{Insn, code::*};
use core::fmt;

/// A register number, 0..=10 (r10 is the read-only frame pointer).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Reg(u8);

impl Reg {
    /// r0: return value of calls and of the program.
    pub const R0: Reg = Reg(0);
    /// r1: first argument (the context pointer at program entry).
    pub const R1: Reg = Reg(1);
    /// r2..r5: further arguments.
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    /// r6..r9: callee-saved.
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// r10: the frame pointer, read-only.
    pub const FP: Reg = Reg(10);
    /// Number of registers.
    pub const COUNT: usize = 11;

    /// The register with number `n`, if it exists.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 { Some(Reg(n)) } else { None }
    }

    /// The register number.
    pub const fn num(self) -> u8 {
        self.0
    }

    /// The register number as an index.
    pub const fn idx(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operation width of ALU and jump instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Width {
    /// 32-bit: operands are the low halves; ALU results are zero-extended.
    W32,
    /// 64-bit.
    W64,
}

/// A second operand: a register or a sign-extended 32-bit immediate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operand {
    Reg(Reg),
    Imm(i32),
}

/// Binary ALU operations (`dst = dst op src`, `mov`: `dst = src`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    /// Unsigned division; division by zero gives 0.
    Div,
    /// Signed division (offset 1); division by zero gives 0.
    SDiv,
    Or,
    And,
    /// Shift left; the count is masked to the width (& 31 or & 63).
    Lsh,
    /// Logical shift right; the count is masked.
    Rsh,
    /// Unsigned modulo; modulo by zero leaves dst unchanged (32-bit: truncated).
    Mod,
    /// Signed modulo (offset 1); modulo by zero leaves dst unchanged.
    SMod,
    Xor,
    Mov,
    /// Sign-extending move from the low 8, 16 or 32 bits of a register.
    MovSx(u8),
    /// Arithmetic shift right; the count is masked.
    Arsh,
}

/// Byte-order operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EndKind {
    /// `le16/le32/le64`: convert to little-endian (truncate/zero-extend on x86).
    ToLe,
    /// `be16/be32/be64`: convert to big-endian.
    ToBe,
    /// `bswap16/32/64` (ALU64 class): unconditional byte swap.
    Swap,
}

/// Memory access sizes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    /// Access size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Size::W => SIZE_W,
            Size::H => SIZE_H,
            Size::B => SIZE_B,
            Size::DW => SIZE_DW,
        }
    }

    fn from_bits(b: u8) -> Size {
        match b & SIZE_MASK {
            SIZE_W => Size::W,
            SIZE_H => Size::H,
            SIZE_B => Size::B,
            _ => Size::DW,
        }
    }
}

/// Conditional jump comparisons.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum JmpCond {
    Eq,
    /// Unsigned `>`.
    Gt,
    /// Unsigned `>=`.
    Ge,
    /// `dst & src != 0`.
    Set,
    Ne,
    /// Signed `>`.
    Sgt,
    /// Signed `>=`.
    Sge,
    /// Unsigned `<`.
    Lt,
    /// Unsigned `<=`.
    Le,
    /// Signed `<`.
    Slt,
    /// Signed `<=`.
    Sle,
}

/// Atomic read-modify-write operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AtomicOp {
    /// `*(base+off) += src`; with `fetch`, src receives the old value.
    Add {
        fetch: bool,
    },
    Or {
        fetch: bool,
    },
    And {
        fetch: bool,
    },
    Xor {
        fetch: bool,
    },
    /// Exchange: src receives the old value.
    Xchg,
    /// Compare r0 with memory; if equal store src. r0 receives the old value.
    CmpXchg,
}

/// One decoded instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// `dst = dst op src` (or `dst = src` for moves).
    Alu {
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    },
    /// `dst = -dst`.
    Neg { width: Width, dst: Reg },
    /// Byte-order conversion of the low `bits` (16, 32 or 64) of `dst`.
    End { kind: EndKind, bits: u8, dst: Reg },
    /// `lddw dst, imm64` (two words).
    LoadImm64 { dst: Reg, imm: u64 },
    /// `dst = *(size *)(base + off)`, zero- or sign-extended.
    Load {
        size: Size,
        sign_extend: bool,
        dst: Reg,
        base: Reg,
        off: i16,
    },
    /// `*(size *)(base + off) = src` (`st` with an immediate, `stx` with a register).
    Store {
        size: Size,
        base: Reg,
        off: i16,
        src: Operand,
    },
    /// Atomic operation on a 32- or 64-bit word.
    Atomic {
        size: Size,
        op: AtomicOp,
        base: Reg,
        off: i16,
        src: Reg,
    },
    /// Legacy packet load (`ldabs`/`ldind`, RFC 9669 section 5.5): decoded
    /// so tools can name it; no program type of exo accepts it.
    LegacyPacketLoad {
        size: Size,
        index: Option<Reg>,
        imm: i32,
    },
    /// Unconditional jump by `off` words (`ja`, or `gotol` with a 32-bit offset).
    Ja { off: i32, long: bool },
    /// Conditional jump by `off` words when `dst cond src`.
    Jmp {
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        off: i16,
    },
    /// Call of a helper function by number.
    CallHelper { id: i32 },
    /// `callx`: call of the helper whose number is in `reg` (opcode 0x8d,
    /// register in the `dst` field). Not part of RFC 9669; exo accepts it
    /// only where the verifier proves `reg` holds one known helper number,
    /// so it is then exactly a [`Op::CallHelper`] (see the verifier's facts).
    CallReg { reg: Reg },
    /// BPF-to-BPF call: the callee starts `off` words after the next word.
    CallLocal { off: i32 },
    /// Return to the caller (or end the program with r0 as the result).
    Exit,
}

/// Why a word sequence is not a valid RFC 9669 instruction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DecodeError {
    /// The opcode byte is not defined by RFC 9669 (or not for this class).
    UnknownOpcode { code: u8 },
    /// A register field names a register above r10.
    BadRegister { code: u8, reg: u8 },
    /// A field the instruction does not use is not zero.
    ReservedField { code: u8, field: &'static str },
    /// The offset field has a value this opcode does not define.
    BadOffset { code: u8, off: i16 },
    /// The immediate has a value this opcode does not define.
    BadImmediate { code: u8, imm: i32 },
    /// `lddw` is the last word of the program.
    TruncatedLddw,
    /// The second word of `lddw` is not a valid continuation (opcode and
    /// registers must be zero).
    BadLddwSecondWord,
    /// `lddw` with a pseudo source (map fd, variable address, ...): exo has no
    /// maps and no relocations.
    UnsupportedLddwSource { src: u8 },
    /// Calls of helpers by BTF id are not supported.
    UnsupportedCallKind { src: u8 },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::UnknownOpcode { code } => write!(f, "unknown opcode {code:#04x}"),
            DecodeError::BadRegister { code, reg } => {
                write!(
                    f,
                    "opcode {code:#04x}: register r{reg} does not exist (r0..r10)"
                )
            }
            DecodeError::ReservedField { code, field } => {
                write!(
                    f,
                    "opcode {code:#04x}: reserved field `{field}` must be zero"
                )
            }
            DecodeError::BadOffset { code, off } => {
                write!(
                    f,
                    "opcode {code:#04x}: offset {off} is not defined for this opcode"
                )
            }
            DecodeError::BadImmediate { code, imm } => {
                write!(
                    f,
                    "opcode {code:#04x}: immediate {imm:#x} is not defined for this opcode"
                )
            }
            DecodeError::TruncatedLddw => write!(f, "lddw is missing its second word"),
            DecodeError::BadLddwSecondWord => {
                write!(
                    f,
                    "second word of lddw must have opcode, registers and offset zero"
                )
            }
            DecodeError::UnsupportedLddwSource { src } => write!(
                f,
                "lddw with pseudo source {src} (maps, variables) is not supported: exo has no maps"
            ),
            DecodeError::UnsupportedCallKind { src } => {
                write!(
                    f,
                    "call with source {src} (BTF helper ids) is not supported"
                )
            }
        }
    }
}

fn reg(code: u8, n: u8) -> Result<Reg, DecodeError> {
    Reg::new(n).ok_or(DecodeError::BadRegister { code, reg: n })
}

fn zero<T: PartialEq + Default>(code: u8, v: T, field: &'static str) -> Result<(), DecodeError> {
    if v == T::default() {
        Ok(())
    } else {
        Err(DecodeError::ReservedField { code, field })
    }
}

impl Op {
    /// Number of instruction words this op occupies (2 for `lddw`, else 1).
    pub fn words(&self) -> usize {
        match self {
            Op::LoadImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// Decodes the instruction starting at `words[pc]`.
    ///
    /// # Panics
    /// Never; an out-of-range `pc` is reported as [`DecodeError::TruncatedLddw`]
    /// only for the second word of `lddw`; callers pass `pc < words.len()`.
    pub fn decode(words: &[Insn], pc: usize) -> Result<Op, DecodeError> {
        let i = words[pc];
        let c = i.code;
        match i.class() {
            CLASS_ALU | CLASS_ALU64 => Self::decode_alu(i),
            CLASS_JMP | CLASS_JMP32 => Self::decode_jmp(i),
            CLASS_LD => {
                let mode = c & MODE_MASK;
                match mode {
                    MODE_IMM if c == LDDW => {
                        let dst = reg(c, i.dst)?;
                        zero(c, i.off, "offset")?;
                        if i.src != 0 {
                            return Err(DecodeError::UnsupportedLddwSource { src: i.src });
                        }
                        let Some(&hi) = words.get(pc + 1) else {
                            return Err(DecodeError::TruncatedLddw);
                        };
                        if hi.code != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0 {
                            return Err(DecodeError::BadLddwSecondWord);
                        }
                        let imm = (i.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32);
                        Ok(Op::LoadImm64 { dst, imm })
                    }
                    MODE_ABS | MODE_IND if (c & SIZE_MASK) != SIZE_DW => {
                        zero(c, i.dst, "dst")?;
                        zero(c, i.off, "offset")?;
                        let index = if mode == MODE_IND {
                            Some(reg(c, i.src)?)
                        } else {
                            zero(c, i.src, "src")?;
                            None
                        };
                        Ok(Op::LegacyPacketLoad {
                            size: Size::from_bits(c),
                            index,
                            imm: i.imm,
                        })
                    }
                    _ => Err(DecodeError::UnknownOpcode { code: c }),
                }
            }
            CLASS_LDX => {
                let size = Size::from_bits(c);
                let sign_extend = match c & MODE_MASK {
                    MODE_MEM => false,
                    MODE_MEMSX if size != Size::DW => true,
                    _ => return Err(DecodeError::UnknownOpcode { code: c }),
                };
                zero(c, i.imm, "imm")?;
                Ok(Op::Load {
                    size,
                    sign_extend,
                    dst: reg(c, i.dst)?,
                    base: reg(c, i.src)?,
                    off: i.off,
                })
            }
            CLASS_ST => {
                if c & MODE_MASK != MODE_MEM {
                    return Err(DecodeError::UnknownOpcode { code: c });
                }
                zero(c, i.src, "src")?;
                Ok(Op::Store {
                    size: Size::from_bits(c),
                    base: reg(c, i.dst)?,
                    off: i.off,
                    src: Operand::Imm(i.imm),
                })
            }
            _ => {
                // CLASS_STX
                let size = Size::from_bits(c);
                match c & MODE_MASK {
                    MODE_MEM => {
                        zero(c, i.imm, "imm")?;
                        Ok(Op::Store {
                            size,
                            base: reg(c, i.dst)?,
                            off: i.off,
                            src: Operand::Reg(reg(c, i.src)?),
                        })
                    }
                    MODE_ATOMIC if matches!(size, Size::W | Size::DW) => {
                        let fetch = i.imm & ATOMIC_FETCH != 0;
                        let op = match i.imm {
                            ATOMIC_XCHG => AtomicOp::Xchg,
                            ATOMIC_CMPXCHG => AtomicOp::CmpXchg,
                            x => match x & !ATOMIC_FETCH {
                                ATOMIC_ADD => AtomicOp::Add { fetch },
                                ATOMIC_OR => AtomicOp::Or { fetch },
                                ATOMIC_AND => AtomicOp::And { fetch },
                                ATOMIC_XOR => AtomicOp::Xor { fetch },
                                _ => return Err(DecodeError::BadImmediate { code: c, imm: x }),
                            },
                        };
                        Ok(Op::Atomic {
                            size,
                            op,
                            base: reg(c, i.dst)?,
                            off: i.off,
                            src: reg(c, i.src)?,
                        })
                    }
                    _ => Err(DecodeError::UnknownOpcode { code: c }),
                }
            }
        }
    }

    fn decode_alu(i: Insn) -> Result<Op, DecodeError> {
        let c = i.code;
        let width = if i.class() == CLASS_ALU64 {
            Width::W64
        } else {
            Width::W32
        };
        let dst = reg(c, i.dst)?;
        let is_x = c & SRC_MASK == SRC_X;
        // Byte swaps use the source bit for the direction and `imm` for the
        // width; their fields are checked in the ALU_END arm below.
        let src = if c & OP_MASK == ALU_END {
            Operand::Imm(i.imm)
        } else if is_x {
            zero(c, i.imm, "imm")?;
            Operand::Reg(reg(c, i.src)?)
        } else {
            zero(c, i.src, "src")?;
            Operand::Imm(i.imm)
        };
        let plain = |op: AluOp| -> Result<Op, DecodeError> {
            if i.off != 0 {
                return Err(DecodeError::BadOffset {
                    code: c,
                    off: i.off,
                });
            }
            Ok(Op::Alu {
                width,
                op,
                dst,
                src,
            })
        };
        let signed = |u: AluOp, s: AluOp| -> Result<Op, DecodeError> {
            let op = match i.off {
                0 => u,
                1 => s,
                off => return Err(DecodeError::BadOffset { code: c, off }),
            };
            Ok(Op::Alu {
                width,
                op,
                dst,
                src,
            })
        };
        match c & OP_MASK {
            ALU_ADD => plain(AluOp::Add),
            ALU_SUB => plain(AluOp::Sub),
            ALU_MUL => plain(AluOp::Mul),
            ALU_DIV => signed(AluOp::Div, AluOp::SDiv),
            ALU_OR => plain(AluOp::Or),
            ALU_AND => plain(AluOp::And),
            ALU_LSH => plain(AluOp::Lsh),
            ALU_RSH => plain(AluOp::Rsh),
            ALU_MOD => signed(AluOp::Mod, AluOp::SMod),
            ALU_XOR => plain(AluOp::Xor),
            ALU_ARSH => plain(AluOp::Arsh),
            ALU_MOV => match (i.off, is_x, width) {
                (0, _, _) => Ok(Op::Alu {
                    width,
                    op: AluOp::Mov,
                    dst,
                    src,
                }),
                (8 | 16, true, _) | (32, true, Width::W64) => Ok(Op::Alu {
                    width,
                    op: AluOp::MovSx(i.off as u8),
                    dst,
                    src,
                }),
                (off, _, _) => Err(DecodeError::BadOffset { code: c, off }),
            },
            ALU_NEG => {
                if is_x {
                    return Err(DecodeError::UnknownOpcode { code: c });
                }
                zero(c, i.imm, "imm")?;
                zero(c, i.off, "offset")?;
                Ok(Op::Neg { width, dst })
            }
            ALU_END => {
                zero(c, i.off, "offset")?;
                if i.src != 0 {
                    return Err(DecodeError::ReservedField {
                        code: c,
                        field: "src",
                    });
                }
                let kind = match (width, is_x) {
                    (Width::W32, false) => EndKind::ToLe,
                    (Width::W32, true) => EndKind::ToBe,
                    (Width::W64, false) => EndKind::Swap,
                    (Width::W64, true) => return Err(DecodeError::UnknownOpcode { code: c }),
                };
                match i.imm {
                    16 | 32 | 64 => Ok(Op::End {
                        kind,
                        bits: i.imm as u8,
                        dst,
                    }),
                    imm => Err(DecodeError::BadImmediate { code: c, imm }),
                }
            }
            _ => Err(DecodeError::UnknownOpcode { code: c }),
        }
    }

    fn decode_jmp(i: Insn) -> Result<Op, DecodeError> {
        let c = i.code;
        let width = if i.class() == CLASS_JMP {
            Width::W64
        } else {
            Width::W32
        };
        let is_x = c & SRC_MASK == SRC_X;
        let cond = match c & OP_MASK {
            JMP_JA => {
                if is_x {
                    return Err(DecodeError::UnknownOpcode { code: c });
                }
                zero(c, i.dst, "dst")?;
                zero(c, i.src, "src")?;
                return if width == Width::W64 {
                    zero(c, i.imm, "imm")?;
                    Ok(Op::Ja {
                        off: i.off as i32,
                        long: false,
                    })
                } else {
                    zero(c, i.off, "offset")?;
                    Ok(Op::Ja {
                        off: i.imm,
                        long: true,
                    })
                };
            }
            JMP_CALL if is_x && width == Width::W64 => {
                zero(c, i.src, "src")?;
                zero(c, i.off, "offset")?;
                zero(c, i.imm, "imm")?;
                return Ok(Op::CallReg {
                    reg: reg(c, i.dst)?,
                });
            }
            JMP_CALL => {
                if is_x || width == Width::W32 {
                    return Err(DecodeError::UnknownOpcode { code: c });
                }
                zero(c, i.dst, "dst")?;
                zero(c, i.off, "offset")?;
                return match i.src {
                    CALL_HELPER => Ok(Op::CallHelper { id: i.imm }),
                    CALL_LOCAL => Ok(Op::CallLocal { off: i.imm }),
                    src => Err(DecodeError::UnsupportedCallKind { src }),
                };
            }
            JMP_EXIT => {
                if is_x || width == Width::W32 {
                    return Err(DecodeError::UnknownOpcode { code: c });
                }
                zero(c, i.dst, "dst")?;
                zero(c, i.src, "src")?;
                zero(c, i.off, "offset")?;
                zero(c, i.imm, "imm")?;
                return Ok(Op::Exit);
            }
            JMP_JEQ => JmpCond::Eq,
            JMP_JGT => JmpCond::Gt,
            JMP_JGE => JmpCond::Ge,
            JMP_JSET => JmpCond::Set,
            JMP_JNE => JmpCond::Ne,
            JMP_JSGT => JmpCond::Sgt,
            JMP_JSGE => JmpCond::Sge,
            JMP_JLT => JmpCond::Lt,
            JMP_JLE => JmpCond::Le,
            JMP_JSLT => JmpCond::Slt,
            JMP_JSLE => JmpCond::Sle,
            _ => return Err(DecodeError::UnknownOpcode { code: c }),
        };
        let src = if is_x {
            zero(c, i.imm, "imm")?;
            Operand::Reg(reg(c, i.src)?)
        } else {
            zero(c, i.src, "src")?;
            Operand::Imm(i.imm)
        };
        Ok(Op::Jmp {
            width,
            cond,
            dst: reg(c, i.dst)?,
            src,
            off: i.off,
        })
    }

    /// Encodes this op as one or two instruction words (the exact inverse of
    /// [`Op::decode`]). Returns the words and how many are used.
    pub fn encode(&self) -> ([Insn; 2], usize) {
        let one = |i: Insn| ([i, Insn::default()], 1);
        let split = |o: Operand| -> (u8, u8, i32) {
            match o {
                Operand::Reg(r) => (SRC_X, r.num(), 0),
                Operand::Imm(v) => (SRC_K, 0, v),
            }
        };
        match *self {
            Op::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let class = match width {
                    Width::W32 => CLASS_ALU,
                    Width::W64 => CLASS_ALU64,
                };
                let (opbits, off) = match op {
                    AluOp::Add => (ALU_ADD, 0),
                    AluOp::Sub => (ALU_SUB, 0),
                    AluOp::Mul => (ALU_MUL, 0),
                    AluOp::Div => (ALU_DIV, 0),
                    AluOp::SDiv => (ALU_DIV, 1),
                    AluOp::Or => (ALU_OR, 0),
                    AluOp::And => (ALU_AND, 0),
                    AluOp::Lsh => (ALU_LSH, 0),
                    AluOp::Rsh => (ALU_RSH, 0),
                    AluOp::Mod => (ALU_MOD, 0),
                    AluOp::SMod => (ALU_MOD, 1),
                    AluOp::Xor => (ALU_XOR, 0),
                    AluOp::Mov => (ALU_MOV, 0),
                    AluOp::MovSx(bits) => (ALU_MOV, bits as i16),
                    AluOp::Arsh => (ALU_ARSH, 0),
                };
                let (sb, sr, imm) = split(src);
                one(Insn::new(class | opbits | sb, dst.num(), sr, off, imm))
            }
            Op::Neg { width, dst } => {
                let class = match width {
                    Width::W32 => CLASS_ALU,
                    Width::W64 => CLASS_ALU64,
                };
                one(Insn::new(class | ALU_NEG, dst.num(), 0, 0, 0))
            }
            Op::End { kind, bits, dst } => {
                let c = match kind {
                    EndKind::ToLe => CLASS_ALU | ALU_END | SRC_K,
                    EndKind::ToBe => CLASS_ALU | ALU_END | SRC_X,
                    EndKind::Swap => CLASS_ALU64 | ALU_END | SRC_K,
                };
                one(Insn::new(c, dst.num(), 0, 0, bits as i32))
            }
            Op::LoadImm64 { dst, imm } => (
                [
                    Insn::new(LDDW, dst.num(), 0, 0, imm as u32 as i32),
                    Insn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32),
                ],
                2,
            ),
            Op::Load {
                size,
                sign_extend,
                dst,
                base,
                off,
            } => {
                let mode = if sign_extend { MODE_MEMSX } else { MODE_MEM };
                one(Insn::new(
                    CLASS_LDX | mode | size.bits(),
                    dst.num(),
                    base.num(),
                    off,
                    0,
                ))
            }
            Op::Store {
                size,
                base,
                off,
                src,
            } => match src {
                Operand::Imm(v) => one(Insn::new(
                    CLASS_ST | MODE_MEM | size.bits(),
                    base.num(),
                    0,
                    off,
                    v,
                )),
                Operand::Reg(r) => one(Insn::new(
                    CLASS_STX | MODE_MEM | size.bits(),
                    base.num(),
                    r.num(),
                    off,
                    0,
                )),
            },
            Op::Atomic {
                size,
                op,
                base,
                off,
                src,
            } => {
                let f = |fetch: bool| if fetch { ATOMIC_FETCH } else { 0 };
                let imm = match op {
                    AtomicOp::Add { fetch } => ATOMIC_ADD | f(fetch),
                    AtomicOp::Or { fetch } => ATOMIC_OR | f(fetch),
                    AtomicOp::And { fetch } => ATOMIC_AND | f(fetch),
                    AtomicOp::Xor { fetch } => ATOMIC_XOR | f(fetch),
                    AtomicOp::Xchg => ATOMIC_XCHG,
                    AtomicOp::CmpXchg => ATOMIC_CMPXCHG,
                };
                one(Insn::new(
                    CLASS_STX | MODE_ATOMIC | size.bits(),
                    base.num(),
                    src.num(),
                    off,
                    imm,
                ))
            }
            Op::LegacyPacketLoad { size, index, imm } => {
                let (mode, src) = match index {
                    Some(r) => (MODE_IND, r.num()),
                    None => (MODE_ABS, 0),
                };
                one(Insn::new(CLASS_LD | mode | size.bits(), 0, src, 0, imm))
            }
            Op::Ja { off, long } => {
                if long {
                    one(Insn::new(CLASS_JMP32 | JMP_JA, 0, 0, 0, off))
                } else {
                    one(Insn::new(CLASS_JMP | JMP_JA, 0, 0, off as i16, 0))
                }
            }
            Op::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let class = match width {
                    Width::W32 => CLASS_JMP32,
                    Width::W64 => CLASS_JMP,
                };
                let opbits = match cond {
                    JmpCond::Eq => JMP_JEQ,
                    JmpCond::Gt => JMP_JGT,
                    JmpCond::Ge => JMP_JGE,
                    JmpCond::Set => JMP_JSET,
                    JmpCond::Ne => JMP_JNE,
                    JmpCond::Sgt => JMP_JSGT,
                    JmpCond::Sge => JMP_JSGE,
                    JmpCond::Lt => JMP_JLT,
                    JmpCond::Le => JMP_JLE,
                    JmpCond::Slt => JMP_JSLT,
                    JmpCond::Sle => JMP_JSLE,
                };
                let (sb, sr, imm) = split(src);
                one(Insn::new(class | opbits | sb, dst.num(), sr, off, imm))
            }
            Op::CallHelper { id } => one(Insn::new(CLASS_JMP | JMP_CALL, 0, CALL_HELPER, 0, id)),
            Op::CallLocal { off } => one(Insn::new(CLASS_JMP | JMP_CALL, 0, CALL_LOCAL, 0, off)),
            Op::CallReg { reg } => one(Insn::new(CLASS_JMP | JMP_CALL | SRC_X, reg.num(), 0, 0, 0)),
            Op::Exit => one(Insn::new(CLASS_JMP | JMP_EXIT, 0, 0, 0, 0)),
        }
    }

    /// The jump target (absolute word index) of a jump or local call at
    /// `pc`, if this op transfers control elsewhere. `None` for fall-through
    /// ops, helper calls and `exit`. The target may lie outside the program;
    /// the verifier checks that.
    pub fn branch_target(&self, pc: usize) -> Option<i64> {
        let rel = match *self {
            Op::Ja { off, .. } => off as i64,
            Op::Jmp { off, .. } => off as i64,
            Op::CallLocal { off } => off as i64,
            _ => return None,
        };
        Some(pc as i64 + 1 + rel)
    }
}

/// Decodes a whole program into `(pc, op)` pairs, `pc` counted in words.
/// The second word of each `lddw` gets no entry.
pub fn decode_program(
    words: &[Insn],
) -> Result<alloc::vec::Vec<(usize, Op)>, (usize, DecodeError)> {
    let mut out = alloc::vec::Vec::with_capacity(words.len());
    let mut pc = 0;
    while pc < words.len() {
        let op = Op::decode(words, pc).map_err(|e| (pc, e))?;
        out.push((pc, op));
        pc += op.words();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every opcode byte with a spread of field values either fails to decode
    /// or re-encodes to exactly the same words.
    #[test]
    fn decode_encode_round_trip_exhaustive_opcodes() {
        let regs = [0u8, 1, 5, 10, 11, 15];
        let offs = [0i16, 1, 8, 16, 32, -1, 0x7fff];
        let imms = [0i32, 1, 16, 32, 64, -1, 0x41, 0xe1, 0xf1, 0x51, i32::MIN];
        let mut decoded = 0;
        for code in 0..=255u8 {
            for &d in &regs {
                for &s in &regs {
                    for &off in &offs {
                        for &imm in &imms {
                            let w = [Insn::new(code, d, s, off, imm), Insn::new(0, 0, 0, 0, 7)];
                            if let Ok(op) = Op::decode(&w, 0) {
                                decoded += 1;
                                let (enc, n) = op.encode();
                                assert_eq!(&enc[..n], &w[..n], "{op:?}");
                                assert_eq!(Op::decode(&enc, 0), Ok(op));
                            }
                        }
                    }
                }
            }
        }
        assert!(decoded > 10_000, "only {decoded} encodings decoded");
    }

    #[test]
    fn rejects_reserved_fields_and_bad_registers() {
        // mov r0, 1 with a source register set.
        let w = [Insn::new(CLASS_ALU64 | ALU_MOV | SRC_K, 0, 3, 0, 1)];
        assert!(matches!(
            Op::decode(&w, 0),
            Err(DecodeError::ReservedField { .. })
        ));
        // r11 as destination.
        let w = [Insn::new(CLASS_ALU64 | ALU_MOV | SRC_K, 11, 0, 0, 1)];
        assert!(matches!(
            Op::decode(&w, 0),
            Err(DecodeError::BadRegister { reg: 11, .. })
        ));
        // lddw at the end.
        let w = [Insn::new(LDDW, 1, 0, 0, 1)];
        assert_eq!(Op::decode(&w, 0), Err(DecodeError::TruncatedLddw));
        // 64-bit sign-extending load does not exist.
        let w = [Insn::new(CLASS_LDX | MODE_MEMSX | SIZE_DW, 1, 2, 0, 0)];
        assert!(matches!(
            Op::decode(&w, 0),
            Err(DecodeError::UnknownOpcode { .. })
        ));
    }

    #[test]
    fn lddw_combines_both_words() {
        let op = Op::LoadImm64 {
            dst: Reg::R3,
            imm: 0x1122_3344_8899_aabb,
        };
        let (w, n) = op.encode();
        assert_eq!(n, 2);
        assert_eq!(Op::decode(&w, 0), Ok(op));
        assert_eq!(decode_program(&w).unwrap(), alloc::vec![(0, op)]);
    }
}
