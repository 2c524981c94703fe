//! Tristate numbers ("known bits"): a 64-bit value where each bit is known 0,
//! known 1 or unknown. `value` holds the known ones, `mask` the unknown bits;
//! `value & mask == 0` always. The operations over-approximate: every
//! concrete result of the operation on members of the inputs is a member of
//! the output.

// `add`/`sub`/`mul` are abstract operations on sets, not `core::ops`.
#![allow(clippy::should_implement_trait)]

use core::fmt;

/// A set of 64-bit values described by known bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tnum {
    pub value: u64,
    pub mask: u64,
}

impl fmt::Debug for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:#x}; {:#x})", self.value, self.mask)
    }
}

impl Tnum {
    /// Every value.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly `v`.
    pub const fn konst(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum containing every value in `[min, max]`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        if chi == 0 {
            return Tnum::konst(min);
        }
        let bits = 64 - chi.leading_zeros();
        if bits >= 64 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// The smallest member.
    pub fn min(self) -> u64 {
        self.value
    }

    /// The largest member.
    pub fn max(self) -> u64 {
        self.value | self.mask
    }

    /// Whether `v` is a member.
    pub fn contains(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Whether every member of `other` is a member of `self`.
    pub fn includes(self, other: Tnum) -> bool {
        other.mask & !self.mask == 0 && (other.value & !self.mask) == self.value
    }

    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Multiplication by shift-and-add over the bits of `self`.
    pub fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::konst(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::konst(acc_v).add(acc_m)
    }

    pub fn lshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value << s,
            mask: self.mask << s,
        }
    }

    pub fn rshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value >> s,
            mask: self.mask >> s,
        }
    }

    pub fn arshift(self, s: u32, bits: u32) -> Tnum {
        if bits == 32 {
            Tnum {
                value: ((self.value as i32) >> s) as u32 as u64,
                mask: ((self.mask as i32) >> s) as u32 as u64,
            }
        } else {
            Tnum {
                value: ((self.value as i64) >> s) as u64,
                mask: ((self.mask as i64) >> s) as u64,
            }
        }
    }

    /// The low 32 bits (upper bits known zero).
    pub fn low32(self) -> Tnum {
        Tnum {
            value: self.value as u32 as u64,
            mask: self.mask as u32 as u64,
        }
    }

    /// Keeps the low `bits` bits (upper known zero).
    pub fn truncate(self, bits: u32) -> Tnum {
        if bits >= 64 {
            return self;
        }
        let m = (1u64 << bits) - 1;
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// Sign-extends from the low `bits` bits.
    pub fn sign_extend(self, bits: u32) -> Tnum {
        let t = self.truncate(bits);
        let sign = 1u64 << (bits - 1);
        let upper = !((sign << 1).wrapping_sub(1));
        if bits >= 64 {
            return self;
        }
        if t.mask & sign != 0 {
            Tnum {
                value: t.value,
                mask: t.mask | upper,
            }
        } else if t.value & sign != 0 {
            Tnum {
                value: t.value | upper,
                mask: t.mask,
            }
        } else {
            t
        }
    }

    /// Swaps the bytes of the low `bits` bits (upper known zero).
    pub fn swap_bytes(self, bits: u32) -> Tnum {
        let t = self.truncate(bits);
        let sw = |v: u64| match bits {
            16 => (v as u16).swap_bytes() as u64,
            32 => (v as u32).swap_bytes() as u64,
            _ => v.swap_bytes(),
        };
        Tnum {
            value: sw(t.value),
            mask: sw(t.mask),
        }
    }

    /// The smallest tnum containing both.
    pub fn union(self, b: Tnum) -> Tnum {
        let mu = self.mask | b.mask | (self.value ^ b.value);
        Tnum {
            value: self.value & !mu,
            mask: mu,
        }
    }

    /// The intersection (callers ensure it is non-empty).
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(t: Tnum) -> impl Iterator<Item = u64> {
        // All members of a tnum with few unknown bits.
        let bits: alloc::vec::Vec<u32> = (0..64).filter(|b| t.mask >> b & 1 == 1).collect();
        (0..1u64 << bits.len()).map(move |i| {
            let mut v = t.value;
            for (k, b) in bits.iter().enumerate() {
                if i >> k & 1 == 1 {
                    v |= 1 << b;
                }
            }
            v
        })
    }

    #[test]
    fn operations_contain_every_concrete_result() {
        let samples = [
            Tnum::konst(5),
            Tnum::range(0, 7),
            Tnum {
                value: 0x10,
                mask: 0x0b,
            },
            Tnum {
                value: 0xff00,
                mask: 0x81,
            },
            Tnum {
                value: 1 << 63,
                mask: 3,
            },
        ];
        for a in samples {
            for b in samples {
                for x in members(a) {
                    for y in members(b) {
                        assert!(a.add(b).contains(x.wrapping_add(y)));
                        assert!(a.sub(b).contains(x.wrapping_sub(y)));
                        assert!(a.mul(b).contains(x.wrapping_mul(y)));
                        assert!(a.and(b).contains(x & y));
                        assert!(a.or(b).contains(x | y));
                        assert!(a.xor(b).contains(x ^ y));
                        assert!(a.union(b).contains(x) && a.union(b).contains(y));
                    }
                    assert!(a.sign_extend(8).contains(x as i8 as i64 as u64));
                    assert!(a.swap_bytes(16).contains((x as u16).swap_bytes() as u64));
                    assert!(a.arshift(3, 64).contains(((x as i64) >> 3) as u64));
                    assert!(a.arshift(3, 32).contains(((x as i32) >> 3) as u32 as u64));
                }
            }
        }
        assert!(Tnum::range(3, 9).contains(3) && Tnum::range(3, 9).contains(9));
        assert!(Tnum::UNKNOWN.includes(Tnum::konst(4)));
        assert!(!Tnum::konst(4).includes(Tnum::range(4, 5)));
    }
}
