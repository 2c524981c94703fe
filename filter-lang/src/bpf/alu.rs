//! Concrete semantics of the ALU and jump instructions (RFC 9669 section 4).
//!
//! One definition shared by the interpreter (every execution) and the
//! verifier (constant folding), so the two can never disagree on what an
//! instruction computes.

use super::op::{AluOp, EndKind, JmpCond, Width};

/// Computes `dst op src` for a binary ALU operation.
///
/// 32-bit operations use the low halves of both operands and zero-extend the
/// result; shift counts are masked to the operation width; division by zero
/// gives 0 and modulo by zero leaves `dst` unchanged (truncated to 32 bits for
/// the 32-bit forms), exactly as RFC 9669 specifies.
pub fn alu(width: Width, op: AluOp, dst: u64, src: u64) -> u64 {
    match width {
        Width::W64 => alu64(op, dst, src),
        Width::W32 => alu32(op, dst as u32, src as u32) as u64,
    }
}

fn alu64(op: AluOp, d: u64, s: u64) -> u64 {
    match op {
        AluOp::Add => d.wrapping_add(s),
        AluOp::Sub => d.wrapping_sub(s),
        AluOp::Mul => d.wrapping_mul(s),
        AluOp::Div => d.checked_div(s).unwrap_or(0),
        AluOp::SDiv => {
            if s == 0 {
                0
            } else {
                (d as i64).wrapping_div(s as i64) as u64
            }
        }
        AluOp::Or => d | s,
        AluOp::And => d & s,
        AluOp::Lsh => d << (s & 63),
        AluOp::Rsh => d >> (s & 63),
        AluOp::Mod => {
            if s == 0 {
                d
            } else {
                d % s
            }
        }
        AluOp::SMod => {
            if s == 0 {
                d
            } else {
                (d as i64).wrapping_rem(s as i64) as u64
            }
        }
        AluOp::Xor => d ^ s,
        AluOp::Mov => s,
        AluOp::MovSx(bits) => match bits {
            8 => s as i8 as i64 as u64,
            16 => s as i16 as i64 as u64,
            _ => s as i32 as i64 as u64,
        },
        AluOp::Arsh => ((d as i64) >> (s & 63)) as u64,
    }
}

fn alu32(op: AluOp, d: u32, s: u32) -> u32 {
    match op {
        AluOp::Add => d.wrapping_add(s),
        AluOp::Sub => d.wrapping_sub(s),
        AluOp::Mul => d.wrapping_mul(s),
        AluOp::Div => d.checked_div(s).unwrap_or(0),
        AluOp::SDiv => {
            if s == 0 {
                0
            } else {
                (d as i32).wrapping_div(s as i32) as u32
            }
        }
        AluOp::Or => d | s,
        AluOp::And => d & s,
        AluOp::Lsh => d << (s & 31),
        AluOp::Rsh => d >> (s & 31),
        AluOp::Mod => {
            if s == 0 {
                d
            } else {
                d % s
            }
        }
        AluOp::SMod => {
            if s == 0 {
                d
            } else {
                (d as i32).wrapping_rem(s as i32) as u32
            }
        }
        AluOp::Xor => d ^ s,
        AluOp::Mov => s,
        AluOp::MovSx(bits) => match bits {
            8 => s as i8 as i32 as u32,
            _ => s as i16 as i32 as u32,
        },
        AluOp::Arsh => ((d as i32) >> (s & 31)) as u32,
    }
}

/// `-dst` at the given width (32-bit results zero-extended).
pub fn neg(width: Width, dst: u64) -> u64 {
    match width {
        Width::W64 => dst.wrapping_neg(),
        Width::W32 => (dst as u32).wrapping_neg() as u64,
    }
}

/// Byte-order conversion of the low `bits` of `dst` on this (little-endian)
/// machine: `le` truncates, `be` and `bswap` swap, all zero-extend.
pub fn end(kind: EndKind, bits: u8, dst: u64) -> u64 {
    let swap = !matches!(kind, EndKind::ToLe);
    match (bits, swap) {
        (16, false) => dst as u16 as u64,
        (16, true) => (dst as u16).swap_bytes() as u64,
        (32, false) => dst as u32 as u64,
        (32, true) => (dst as u32).swap_bytes() as u64,
        (_, false) => dst,
        (_, true) => dst.swap_bytes(),
    }
}

/// Whether the jump condition `dst cond src` holds (32-bit forms compare the
/// low halves).
pub fn cond(width: Width, cond: JmpCond, dst: u64, src: u64) -> bool {
    let (d, s, sd, ss) = match width {
        Width::W64 => (dst, src, dst as i64, src as i64),
        Width::W32 => (
            dst as u32 as u64,
            src as u32 as u64,
            dst as i32 as i64,
            src as i32 as i64,
        ),
    };
    match cond {
        JmpCond::Eq => d == s,
        JmpCond::Ne => d != s,
        JmpCond::Gt => d > s,
        JmpCond::Ge => d >= s,
        JmpCond::Lt => d < s,
        JmpCond::Le => d <= s,
        JmpCond::Set => d & s != 0,
        JmpCond::Sgt => sd > ss,
        JmpCond::Sge => sd >= ss,
        JmpCond::Slt => sd < ss,
        JmpCond::Sle => sd <= ss,
    }
}

/// The value of an immediate operand: sign-extended to 64 bits (the 32-bit
/// forms then use its low half).
pub fn imm(v: i32) -> u64 {
    v as i64 as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_and_modulo_by_zero_follow_the_rfc() {
        assert_eq!(alu(Width::W64, AluOp::Div, 7, 0), 0);
        assert_eq!(alu(Width::W64, AluOp::SDiv, 7, 0), 0);
        assert_eq!(alu(Width::W64, AluOp::Mod, 7, 0), 7);
        assert_eq!(alu(Width::W32, AluOp::Mod, 0x1_0000_0007, 0), 7);
        assert_eq!(alu(Width::W64, AluOp::SMod, u64::MAX, 0), u64::MAX);
        // Signed overflow cases wrap instead of trapping.
        assert_eq!(
            alu(Width::W64, AluOp::SDiv, i64::MIN as u64, u64::MAX),
            i64::MIN as u64
        );
        assert_eq!(alu(Width::W64, AluOp::SMod, i64::MIN as u64, u64::MAX), 0);
        assert_eq!(
            alu(Width::W32, AluOp::SDiv, 0x8000_0000, 0xffff_ffff),
            0x8000_0000
        );
    }

    #[test]
    fn shifts_are_masked_and_32_bit_results_zero_extend() {
        assert_eq!(alu(Width::W64, AluOp::Lsh, 1, 65), 2);
        assert_eq!(alu(Width::W32, AluOp::Lsh, 1, 33), 2);
        assert_eq!(alu(Width::W32, AluOp::Add, u64::MAX, 1), 0);
        assert_eq!(alu(Width::W32, AluOp::Arsh, 0x8000_0000, 4), 0xf800_0000);
        assert_eq!(alu(Width::W64, AluOp::MovSx(8), 0, 0x80), u64::MAX - 0x7f);
        assert_eq!(alu(Width::W32, AluOp::MovSx(16), 0, 0x8000), 0xffff_8000);
    }

    #[test]
    fn byte_order_and_conditions() {
        assert_eq!(end(EndKind::ToBe, 16, 0x1122_3344), 0x4433);
        assert_eq!(end(EndKind::ToLe, 32, 0x1_1122_3344), 0x1122_3344);
        assert_eq!(end(EndKind::Swap, 64, 0x0102), 0x0201 << 48);
        assert!(cond(Width::W32, JmpCond::Slt, 0xffff_ffff, 0));
        assert!(!cond(Width::W64, JmpCond::Slt, 0xffff_ffff, 0));
        assert!(cond(Width::W64, JmpCond::Eq, imm(-1), u64::MAX));
    }
}
