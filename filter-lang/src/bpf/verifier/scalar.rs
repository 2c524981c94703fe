//! Abstract scalars: known bits ([`Tnum`]) plus unsigned and signed 64-bit
//! ranges, kept consistent with each other. Transfer functions for every ALU
//! operation over-approximate the concrete semantics of [`crate::bpf::alu`];
//! branch refinement narrows both operands of a comparison.

use super::tnum::Tnum;
use crate::bpf::alu;
use crate::bpf::op::{AluOp, EndKind, JmpCond, Width};
use core::fmt;

/// A set of 64-bit values.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scalar {
    pub t: Tnum,
    pub umin: u64,
    pub umax: u64,
    pub smin: i64,
    pub smax: i64,
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = self.as_const() {
            return if (-4096..=4096).contains(&(v as i64)) {
                write!(f, "{}", v as i64)
            } else {
                write!(f, "{v:#x}")
            };
        }
        if *self == Scalar::UNKNOWN {
            return write!(f, "unknown");
        }
        let mut sep = "";
        if self.umin != 0 || self.umax != u64::MAX {
            write!(f, "u[{}, {}]", self.umin, self.umax)?;
            sep = " ";
        }
        if (self.smin != i64::MIN || self.smax != i64::MAX)
            && !(self.smin >= 0 && self.smin as u64 == self.umin && self.smax as u64 == self.umax)
        {
            write!(f, "{sep}s[{}, {}]", self.smin, self.smax)?;
            sep = " ";
        }
        if self.t.mask != u64::MAX && (self.t.value != 0 || self.t.mask.count_ones() < 64) {
            let range_t = Tnum::range(self.umin, self.umax);
            if range_t != self.t {
                write!(f, "{sep}bits{:?}", self.t)?;
            }
        }
        Ok(())
    }
}

const SIGN: u64 = 1 << 63;

impl Scalar {
    /// Every value.
    pub const UNKNOWN: Scalar = Scalar {
        t: Tnum::UNKNOWN,
        umin: 0,
        umax: u64::MAX,
        smin: i64::MIN,
        smax: i64::MAX,
    };

    /// Exactly `v`.
    pub const fn konst(v: u64) -> Scalar {
        Scalar {
            t: Tnum::konst(v),
            umin: v,
            umax: v,
            smin: v as i64,
            smax: v as i64,
        }
    }

    /// Every value in `[lo, hi]` (unsigned).
    pub fn urange(lo: u64, hi: u64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.umin = lo;
        s.umax = hi;
        s.sync();
        s
    }

    /// Every value in `[lo, hi]` (signed).
    pub fn srange(lo: i64, hi: i64) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.smin = lo;
        s.smax = hi;
        s.sync();
        s
    }

    fn from_tnum(t: Tnum) -> Scalar {
        let mut s = Scalar::UNKNOWN;
        s.t = t;
        s.sync();
        s
    }

    /// The value, when there is exactly one.
    pub fn as_const(&self) -> Option<u64> {
        (self.umin == self.umax).then_some(self.umin)
    }

    /// Whether `v` is a member.
    pub fn contains(&self, v: u64) -> bool {
        self.umin <= v
            && v <= self.umax
            && self.smin <= v as i64
            && v as i64 <= self.smax
            && self.t.contains(v)
    }

    /// A set containing exactly the members of `t`'s ranges (for tests and
    /// tools building abstract values).
    pub fn from_known_bits(t: Tnum) -> Scalar {
        Scalar::from_tnum(t)
    }

    /// Whether the set is empty (an infeasible refinement).
    pub fn is_empty(&self) -> bool {
        self.umin > self.umax
            || self.smin > self.smax
            || self.t.min() > self.umax
            || self.t.max() < self.umin
    }

    /// Whether every member of `other` is a member of `self`.
    pub fn includes(&self, other: &Scalar) -> bool {
        self.umin <= other.umin
            && other.umax <= self.umax
            && self.smin <= other.smin
            && other.smax <= self.smax
            && self.t.includes(other.t)
    }

    /// Tightens the ranges and known bits against each other.
    pub fn sync(&mut self) {
        for _ in 0..2 {
            self.umin = self.umin.max(self.t.min());
            self.umax = self.umax.min(self.t.max());
            self.smin = self.smin.max((self.t.value | (self.t.mask & SIGN)) as i64);
            self.smax = self.smax.min((self.t.value | (self.t.mask & !SIGN)) as i64);
            // Unsigned range on one side of the sign boundary: same as signed.
            if self.umin <= self.umax && (self.umax < SIGN || self.umin >= SIGN) {
                self.smin = self.smin.max(self.umin as i64);
                self.smax = self.smax.min(self.umax as i64);
            }
            if self.smin <= self.smax && (self.smin >= 0 || self.smax < 0) {
                self.umin = self.umin.max(self.smin as u64);
                self.umax = self.umax.min(self.smax as u64);
            }
            if self.is_empty() {
                return;
            }
            self.t = self.t.intersect(Tnum::range(self.umin, self.umax));
        }
    }

    /// The low 32 bits as a value in `[0, 2^32)`.
    pub fn low32(&self) -> Scalar {
        if self.umax <= u32::MAX as u64 {
            *self
        } else {
            Scalar::from_tnum(self.t.low32())
        }
    }

    /// Applies a binary ALU operation.
    pub fn alu(width: Width, op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return Scalar::konst(alu::alu(width, op, x, y));
        }
        match width {
            Width::W64 => alu64(op, a, b),
            Width::W32 => alu32(op, a, b),
        }
    }

    /// `-a`.
    pub fn neg(width: Width, a: &Scalar) -> Scalar {
        Scalar::alu(width, AluOp::Sub, &Scalar::konst(0), a)
    }

    /// Byte-order conversion.
    pub fn end(kind: EndKind, bits: u8, a: &Scalar) -> Scalar {
        if let Some(x) = a.as_const() {
            return Scalar::konst(alu::end(kind, bits, x));
        }
        let bits = bits as u32;
        match kind {
            EndKind::ToLe if bits == 64 => *a,
            EndKind::ToLe if a.umax < (1u64 << bits) => *a,
            EndKind::ToLe => Scalar::from_tnum(a.t.truncate(bits)),
            _ => Scalar::from_tnum(a.t.swap_bytes(bits)),
        }
    }
}

fn shift_count(width: Width, b: &Scalar) -> Option<u32> {
    let mask = if width == Width::W64 { 63 } else { 31 };
    b.as_const().map(|c| (c & mask) as u32)
}

fn alu64(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    let mut r = Scalar::UNKNOWN;
    match op {
        AluOp::Mov => return *b,
        AluOp::MovSx(bits) => {
            let half = 1u64 << (bits - 1);
            if b.umax < half {
                return *b;
            }
            r.t = b.t.sign_extend(bits as u32);
        }
        AluOp::Add => {
            r.t = a.t.add(b.t);
            if let (Some(lo), Some(hi)) = (a.umin.checked_add(b.umin), a.umax.checked_add(b.umax)) {
                r.umin = lo;
                r.umax = hi;
            }
            if let (Some(lo), Some(hi)) = (a.smin.checked_add(b.smin), a.smax.checked_add(b.smax)) {
                r.smin = lo;
                r.smax = hi;
            }
        }
        AluOp::Sub => {
            r.t = a.t.sub(b.t);
            if a.umin >= b.umax {
                r.umin = a.umin - b.umax;
                r.umax = a.umax - b.umin;
            }
            if let (Some(lo), Some(hi)) = (a.smin.checked_sub(b.smax), a.smax.checked_sub(b.smin)) {
                r.smin = lo;
                r.smax = hi;
            }
        }
        AluOp::Mul => {
            r.t = a.t.mul(b.t);
            if let Some(hi) = a.umax.checked_mul(b.umax) {
                r.umin = a.umin * b.umin;
                r.umax = hi;
            }
        }
        AluOp::Div => match b.as_const() {
            Some(0) => return Scalar::konst(0),
            Some(c) => {
                r.umin = a.umin / c;
                r.umax = a.umax / c;
            }
            None => r.umax = a.umax,
        },
        AluOp::Mod => match b.as_const() {
            Some(0) => return *a,
            Some(c) if a.umax < c => return *a,
            Some(c) => r.umax = c - 1,
            None => r.umax = a.umax,
        },
        AluOp::SDiv | AluOp::SMod => {}
        AluOp::And => {
            r.t = a.t.and(b.t);
            r.umax = a.umax.min(b.umax);
        }
        AluOp::Or => {
            r.t = a.t.or(b.t);
            r.umin = a.umin.max(b.umin);
        }
        AluOp::Xor => r.t = a.t.xor(b.t),
        AluOp::Lsh => {
            if let Some(c) = shift_count(Width::W64, b) {
                r.t = a.t.lshift(c);
                if a.umax.leading_zeros() >= c {
                    r.umin = a.umin << c;
                    r.umax = a.umax << c;
                }
            }
        }
        AluOp::Rsh => match shift_count(Width::W64, b) {
            Some(c) => {
                r.t = a.t.rshift(c);
                r.umin = a.umin >> c;
                r.umax = a.umax >> c;
            }
            None => r.umax = a.umax,
        },
        AluOp::Arsh => {
            if let Some(c) = shift_count(Width::W64, b) {
                r.t = a.t.arshift(c, 64);
                r.smin = a.smin >> c;
                r.smax = a.smax >> c;
            }
        }
    }
    r.sync();
    r
}

fn alu32(op: AluOp, a: &Scalar, b: &Scalar) -> Scalar {
    let (a32, b32) = (a.low32(), b.low32());
    let r = match op {
        AluOp::Mov => return b32,
        AluOp::MovSx(bits) => {
            let half = 1u64 << (bits - 1);
            if b32.umax < half {
                return b32;
            }
            Scalar::from_tnum(b32.t.sign_extend(bits as u32).low32())
        }
        AluOp::Add
        | AluOp::Sub
        | AluOp::Mul
        | AluOp::Div
        | AluOp::Mod
        | AluOp::And
        | AluOp::Or
        | AluOp::Xor
        | AluOp::Rsh => {
            let b32 = if op == AluOp::Rsh {
                match shift_count(Width::W32, b) {
                    Some(c) => Scalar::konst(c as u64),
                    None => return Scalar::urange(0, a32.umax),
                }
            } else {
                b32
            };
            alu64(op, &a32, &b32)
        }
        AluOp::Lsh => match shift_count(Width::W32, b) {
            Some(c) => alu64(op, &a32, &Scalar::konst(c as u64)),
            None => Scalar::UNKNOWN,
        },
        AluOp::Arsh => match shift_count(Width::W32, b) {
            Some(c) => Scalar::from_tnum(a32.t.arshift(c, 32)),
            None => Scalar::UNKNOWN,
        },
        AluOp::SDiv | AluOp::SMod => Scalar::UNKNOWN,
    };
    // Results live in the low 32 bits, zero-extended.
    if r.umax <= u32::MAX as u64 {
        r
    } else {
        Scalar::from_tnum(r.t.low32())
    }
}

/// The condition that holds on the fall-through edge of `cond`.
pub fn negate(cond: JmpCond) -> Option<JmpCond> {
    Some(match cond {
        JmpCond::Eq => JmpCond::Ne,
        JmpCond::Ne => JmpCond::Eq,
        JmpCond::Gt => JmpCond::Le,
        JmpCond::Le => JmpCond::Gt,
        JmpCond::Ge => JmpCond::Lt,
        JmpCond::Lt => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sgt,
        JmpCond::Sge => JmpCond::Slt,
        JmpCond::Slt => JmpCond::Sge,
        JmpCond::Set => return None,
    })
}

/// Narrows `a` and `b` to the values for which `a cond b` (64-bit) can hold;
/// `None` when it cannot hold. `holds = false` narrows for the negation.
pub fn refine(cond: JmpCond, holds: bool, a: &Scalar, b: &Scalar) -> Option<(Scalar, Scalar)> {
    let (mut a, mut b) = (*a, *b);
    let cond = if holds { Some(cond) } else { negate(cond) };
    match cond {
        // `jset` and its negation: only constant masks narrow.
        None => {
            // !(a & b): with b constant, those bits of a are zero.
            if let Some(c) = b.as_const() {
                if a.t.value & c != 0 {
                    return None;
                }
                a.t = a.t.intersect(Tnum { value: 0, mask: !c });
            }
        }
        Some(JmpCond::Set) => {
            if let Some(c) = b.as_const() {
                if (a.t.value | a.t.mask) & c == 0 {
                    return None;
                }
                if c.is_power_of_two() {
                    a.t = a.t.intersect(Tnum { value: c, mask: !c });
                }
            }
        }
        Some(JmpCond::Eq) => {
            if (a.t.value ^ b.t.value) & !(a.t.mask | b.t.mask) != 0 {
                return None;
            }
            let t = a.t.intersect(b.t);
            let m = Scalar {
                t,
                umin: a.umin.max(b.umin),
                umax: a.umax.min(b.umax),
                smin: a.smin.max(b.smin),
                smax: a.smax.min(b.smax),
            };
            a = m;
            b = m;
        }
        Some(JmpCond::Ne) => {
            if let (Some(x), Some(y)) = (a.as_const(), b.as_const())
                && x == y
            {
                return None;
            }
            exclude(&mut a, &b);
            exclude(&mut b, &a);
        }
        Some(JmpCond::Lt) => {
            a.umax = a.umax.min(b.umax.checked_sub(1)?);
            b.umin = b.umin.max(a.umin.checked_add(1)?);
        }
        Some(JmpCond::Le) => {
            a.umax = a.umax.min(b.umax);
            b.umin = b.umin.max(a.umin);
        }
        Some(JmpCond::Gt) => {
            a.umin = a.umin.max(b.umin.checked_add(1)?);
            b.umax = b.umax.min(a.umax.checked_sub(1)?);
        }
        Some(JmpCond::Ge) => {
            a.umin = a.umin.max(b.umin);
            b.umax = b.umax.min(a.umax);
        }
        Some(JmpCond::Slt) => {
            a.smax = a.smax.min(b.smax.checked_sub(1)?);
            b.smin = b.smin.max(a.smin.checked_add(1)?);
        }
        Some(JmpCond::Sle) => {
            a.smax = a.smax.min(b.smax);
            b.smin = b.smin.max(a.smin);
        }
        Some(JmpCond::Sgt) => {
            a.smin = a.smin.max(b.smin.checked_add(1)?);
            b.smax = b.smax.min(a.smax.checked_sub(1)?);
        }
        Some(JmpCond::Sge) => {
            a.smin = a.smin.max(b.smin);
            b.smax = b.smax.min(a.smax);
        }
    }
    if a.is_empty() || b.is_empty() {
        return None;
    }
    a.sync();
    b.sync();
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some((a, b))
}

/// Removes the constant `b` from `a`'s range ends.
fn exclude(a: &mut Scalar, b: &Scalar) {
    let Some(c) = b.as_const() else { return };
    if a.umin == c && a.umin < a.umax {
        a.umin += 1;
    } else if a.umax == c && a.umin < a.umax {
        a.umax -= 1;
    }
    let s = c as i64;
    if a.smin == s && a.smin < a.smax {
        a.smin += 1;
    } else if a.smax == s && a.smin < a.smax {
        a.smax -= 1;
    }
}

/// Narrows for a 32-bit comparison (`jmp32`): compares the low halves.
/// Returns the narrowed operands (unchanged where the comparison says
/// nothing about the full 64-bit value), or `None` when it cannot hold.
pub fn refine32(cond: JmpCond, holds: bool, a: &Scalar, b: &Scalar) -> Option<(Scalar, Scalar)> {
    let (a32, b32) = (a.low32(), b.low32());
    if let (Some(x), Some(y)) = (a32.as_const(), b32.as_const()) {
        return (alu::cond(Width::W32, cond, x, y) == holds).then_some((*a, *b));
    }
    let signed = matches!(
        cond,
        JmpCond::Sgt | JmpCond::Sge | JmpCond::Slt | JmpCond::Sle
    );
    let half = i32::MAX as u64;
    let ucond = if signed {
        if a32.umax > half || b32.umax > half {
            // Signed 32-bit views we do not track: no narrowing.
            return Some((*a, *b));
        }
        match cond {
            JmpCond::Sgt => JmpCond::Gt,
            JmpCond::Sge => JmpCond::Ge,
            JmpCond::Slt => JmpCond::Lt,
            _ => JmpCond::Le,
        }
    } else {
        cond
    };
    let (na, nb) = refine(ucond, holds, &a32, &b32)?;
    // The low halves narrowed; the full values only when they are their low
    // halves.
    let a = if a.umax <= u32::MAX as u64 { na } else { *a };
    let b = if b.umax <= u32::MAX as u64 { nb } else { *b };
    Some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_constants_and_refinement() {
        let x = Scalar::urange(0, 255);
        let r = Scalar::alu(Width::W64, AluOp::Add, &x, &Scalar::konst(10));
        assert_eq!((r.umin, r.umax), (10, 265));
        let r = Scalar::alu(
            Width::W64,
            AluOp::And,
            &Scalar::UNKNOWN,
            &Scalar::konst(0xff),
        );
        assert_eq!((r.umin, r.umax), (0, 255));
        let r = Scalar::alu(Width::W64, AluOp::Lsh, &x, &Scalar::konst(2));
        assert_eq!((r.umin, r.umax), (0, 1020));
        let (lt, _) = refine(JmpCond::Lt, true, &x, &Scalar::konst(10)).unwrap();
        assert_eq!((lt.umin, lt.umax), (0, 9));
        let (ge, _) = refine(JmpCond::Lt, false, &x, &Scalar::konst(10)).unwrap();
        assert_eq!((ge.umin, ge.umax), (10, 255));
        assert!(refine(JmpCond::Gt, true, &x, &Scalar::konst(255)).is_none());
        let k = Scalar::konst(7);
        assert!(refine(JmpCond::Eq, true, &k, &Scalar::konst(8)).is_none());
        assert!(refine(JmpCond::Ne, true, &k, &Scalar::konst(7)).is_none());
        // 32-bit: an unknown 64-bit value tells nothing, a small one narrows.
        assert!(
            refine32(JmpCond::Lt, true, &x, &Scalar::konst(3))
                .unwrap()
                .0
                .umax
                == 2
        );
        let d = Scalar::alu(Width::W32, AluOp::Add, &Scalar::konst(u32::MAX as u64), &x);
        assert!(d.umax <= u32::MAX as u64);
    }
}
