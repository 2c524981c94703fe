//! Sets of 32-bit values as sorted disjoint ranges, and their cover by
//! masked prefixes (how a range test becomes filter atoms).

use alloc::vec::Vec;

/// A set of `u32` values: sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct RangeSet(Vec<(u32, u32)>);

impl RangeSet {
    pub fn empty() -> RangeSet {
        RangeSet(Vec::new())
    }

    pub fn full() -> RangeSet {
        RangeSet(alloc::vec![(0, u32::MAX)])
    }

    pub fn single(v: u32) -> RangeSet {
        RangeSet(alloc::vec![(v, v)])
    }

    /// `[lo, hi]`, empty when `lo > hi`.
    pub fn range(lo: u32, hi: u32) -> RangeSet {
        if lo > hi {
            RangeSet::empty()
        } else {
            RangeSet(alloc::vec![(lo, hi)])
        }
    }

    /// The ranges.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.0 == [(0, u32::MAX)]
    }

    pub fn contains(&self, v: u32) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= v && v <= hi)
    }

    pub fn complement(&self) -> RangeSet {
        let mut out = Vec::new();
        let mut next: u64 = 0;
        for &(lo, hi) in &self.0 {
            if (lo as u64) > next {
                out.push((next as u32, lo - 1));
            }
            next = hi as u64 + 1;
        }
        if next <= u32::MAX as u64 {
            out.push((next as u32, u32::MAX));
        }
        RangeSet(out)
    }

    pub fn intersect(&self, o: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < o.0.len() {
            let (a, b) = (self.0[i], o.0[j]);
            let lo = a.0.max(b.0);
            let hi = a.1.min(b.1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet(out)
    }

    pub fn union(&self, o: &RangeSet) -> RangeSet {
        let mut all: Vec<(u32, u32)> = self.0.iter().chain(o.0.iter()).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::new();
        for (lo, hi) in all {
            match out.last_mut() {
                Some(last) if (lo as u64) <= last.1 as u64 + 1 => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        RangeSet(out)
    }

    /// Whether every value of `self` is in `o`.
    pub fn is_subset(&self, o: &RangeSet) -> bool {
        self.intersect(o) == *self
    }

    /// Covers the set by prefixes `(prefix mask, value)`: `v` is in the set
    /// iff `v & mask == value` for one of them. At most 62 per range.
    pub fn prefixes(&self) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for &(lo, hi) in &self.0 {
            let (mut lo, hi) = (lo as u64, hi as u64);
            while lo <= hi {
                // Largest aligned block starting at lo that fits in [lo, hi].
                let mut k = if lo == 0 {
                    32
                } else {
                    lo.trailing_zeros().min(32)
                };
                while k > 0 && lo + (1u64 << k) - 1 > hi {
                    k -= 1;
                }
                let size = 1u64 << k;
                let mask = !((size - 1) as u32);
                out.push((if k == 32 { 0 } else { mask }, lo as u32));
                lo += size;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cover(s: &RangeSet, probes: &[u32]) {
        let p = s.prefixes();
        for &v in probes {
            let covered = p.iter().any(|&(m, x)| v & m == x);
            assert_eq!(covered, s.contains(v), "{v:#x} in {s:?} via {p:x?}");
        }
    }

    #[test]
    fn prefix_cover_is_exact() {
        let probes: Vec<u32> = (0..300)
            .chain([
                999,
                1000,
                1001,
                2000,
                2001,
                0xffff,
                0x1_0000,
                u32::MAX - 1,
                u32::MAX,
            ])
            .collect();
        for s in [
            RangeSet::range(1000, 2000),
            RangeSet::range(0, u32::MAX),
            RangeSet::single(53),
            RangeSet::single(53).complement(),
            RangeSet::range(101, u32::MAX),
            RangeSet::range(1, 1).union(&RangeSet::range(7, 255)),
        ] {
            check_cover(&s, &probes);
        }
        assert_eq!(RangeSet::full().prefixes(), alloc::vec![(0, 0)]);
        assert!(RangeSet::range(1000, 2000).prefixes().len() <= 62);
    }

    #[test]
    fn set_algebra() {
        let a = RangeSet::range(10, 20);
        let b = RangeSet::range(15, 30);
        assert_eq!(a.intersect(&b), RangeSet::range(15, 20));
        assert_eq!(a.union(&b), RangeSet::range(10, 30));
        assert_eq!(a.complement().complement(), a);
        assert!(a.union(&a.complement()).is_full());
        assert!(a.intersect(&a.complement()).is_empty());
        assert!(RangeSet::range(12, 13).is_subset(&a));
    }
}
