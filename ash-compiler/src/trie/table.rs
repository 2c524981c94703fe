//! Hash tables for value dispatch in compiled tries.
//!
//! A comparison group with many values (many filters that differ only in,
//! say, a port number) is dispatched through a table of `(key, target)`
//! slots indexed by a multiplicative hash `(v * k) >> (32 - bits)`. Per
//! group, the builder first looks for a *perfect* multiplier (no two keys
//! share a slot: one probe, no loop) and otherwise falls back to *open
//! addressing* with linear probing at a load factor of at most 1/2.

use alloc::vec;
use alloc::vec::Vec;

/// How a table resolves collisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// Collision-free for its keys: one probe.
    Perfect,
    /// Linear probing; an empty slot has target 0.
    OpenAddressing,
}

/// A built table: `slots[i] = (key, index of the key's value)` or `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub kind: TableKind,
    /// The odd multiplier of the hash.
    pub mult: u32,
    /// log2 of the slot count.
    pub bits: u32,
    pub slots: Vec<Option<(u32, usize)>>,
}

impl Table {
    /// The home slot of `v`.
    pub fn home(mult: u32, bits: u32, v: u32) -> usize {
        (v.wrapping_mul(mult) >> (32 - bits)) as usize
    }
}

/// Multipliers tried for perfect hashing (odd, well mixed).
fn multipliers() -> impl Iterator<Item = u32> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..48).map(move |i| {
        if i == 0 {
            return 0x9e37_79b1;
        }
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z >> 32) as u32 | 1
    })
}

/// Builds a table for `keys` (distinct). Perfect when a multiplier is
/// found for up to 8 slots per key; open addressing otherwise.
pub fn build(keys: &[u32]) -> Table {
    let n = keys.len().max(1);
    let min_bits = (2 * n).next_power_of_two().trailing_zeros().max(1);
    for bits in min_bits..=min_bits + 2 {
        if bits > 24 {
            break;
        }
        'mult: for mult in multipliers() {
            let mut slots = vec![None; 1 << bits];
            for (i, &k) in keys.iter().enumerate() {
                let h = Table::home(mult, bits, k);
                if slots[h].is_some() {
                    continue 'mult;
                }
                slots[h] = Some((k, i));
            }
            return Table {
                kind: TableKind::Perfect,
                mult,
                bits,
                slots,
            };
        }
    }
    let bits = min_bits;
    let mult = 0x9e37_79b1;
    let mask = (1usize << bits) - 1;
    let mut slots = vec![None; 1 << bits];
    for (i, &k) in keys.iter().enumerate() {
        let mut h = Table::home(mult, bits, k);
        while slots[h].is_some() {
            h = (h + 1) & mask;
        }
        slots[h] = Some((k, i));
    }
    Table {
        kind: TableKind::OpenAddressing,
        mult,
        bits,
        slots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(t: &Table, v: u32) -> Option<usize> {
        let mask = t.slots.len() - 1;
        let mut h = Table::home(t.mult, t.bits, v);
        loop {
            match t.slots[h] {
                Some((k, i)) if k == v => return Some(i),
                Some(_) if t.kind == TableKind::OpenAddressing => h = (h + 1) & mask,
                _ => return None,
            }
        }
    }

    #[test]
    fn small_sets_get_perfect_tables_large_random_ones_still_resolve() {
        let small: Vec<u32> = (0..10).map(|i| 1000 + i * 7).collect();
        assert_eq!(build(&small).kind, TableKind::Perfect);
        // Fibonacci hashing spreads arithmetic progressions (port ranges).
        let ports: Vec<u32> = (0..10_000).map(|i| 1024 + i).collect();
        assert_eq!(build(&ports).kind, TableKind::Perfect);
        let mut s = 0x1234_5678u32;
        let mut random: Vec<u32> = (0..10_000)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s
            })
            .collect();
        random.sort_unstable();
        random.dedup();
        let t = build(&random);
        assert_eq!(t.kind, TableKind::OpenAddressing);
        for keys in [&small, &ports, &random] {
            let t = build(keys);
            assert!(t.slots.len() >= 2 * keys.len());
            for (i, &k) in keys.iter().enumerate() {
                assert_eq!(lookup(&t, k), Some(i));
            }
            assert_eq!(lookup(&t, 5), None);
        }
    }
}
