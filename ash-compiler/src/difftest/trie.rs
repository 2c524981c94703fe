//! Differential testing of the filter-trie compiler against the merged
//! classifier: random filter sets from a small vocabulary (shared prefixes,
//! IHL-style shifts, masks, length tests, siblings that differ in one
//! value), random insertions and removals (applied in place to leaf tables
//! when possible, recompiled otherwise), frames built to match filters,
//! mutated, truncated or random. Used by `tests/trie.rs` and the `trie_diff`
//! fuzz target.

use super::source::Source;
use crate::host::ExecBuffer;
use crate::trie::{TrieOptions, compile_trie};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use filter_lang::filter::{Atom, Classifier, FieldWidth, Filter, FilterId};

/// Randomness: from fuzzer bytes while they last, then a xorshift stream.
pub struct Rng<'a> {
    bytes: Option<Source<'a>>,
    state: u64,
}

impl<'a> Rng<'a> {
    /// A xorshift stream from `seed`.
    pub fn from_seed(seed: u64) -> Rng<'a> {
        Rng {
            bytes: None,
            state: seed | 1,
        }
    }

    /// Choices from `data`, then a stream seeded by its length.
    pub fn from_bytes(data: &'a [u8]) -> Rng<'a> {
        Rng {
            bytes: Some(Source::new(data)),
            state: (data.len() as u64) << 1 | 1,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        if let Some(s) = self.bytes.as_mut()
            && !s.exhausted()
        {
            return s.u64();
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

const WIDTHS: [FieldWidth; 3] = [FieldWidth::B1, FieldWidth::B2, FieldWidth::B4];

/// A filter from a small vocabulary so that filters share prefixes and
/// shapes: an "ethertype", a "protocol", an optional header-length shift,
/// then one or two "port" comparisons with values from a small range.
pub fn random_filter(r: &mut Rng<'_>) -> Filter {
    let mut atoms = Vec::new();
    if r.below(8) != 0 {
        atoms.push(Atom::Cmp {
            off: 12,
            width: FieldWidth::B2,
            mask: 0xffff,
            value: [0x0800, 0x86dd][r.below(2) as usize],
        });
    }
    if r.below(4) != 0 {
        atoms.push(Atom::Cmp {
            off: 23,
            width: FieldWidth::B1,
            mask: 0xff,
            value: [6, 17][r.below(2) as usize],
        });
    }
    if r.below(3) == 0 {
        atoms.push(Atom::Shift {
            off: 14,
            width: FieldWidth::B1,
            mask: 0x0f,
            shift: 2,
        });
    }
    for _ in 0..r.below(3) {
        let width = WIDTHS[r.below(3) as usize];
        let full = width.full_mask();
        let mask = if r.below(4) == 0 {
            full & (r.next_u64() as u32 | 1)
        } else {
            full
        };
        let mask = if r.below(16) == 0 { 0 } else { mask };
        let value = (r.below(24) as u32 * 0x0101_0101) & mask;
        atoms.push(Atom::Cmp {
            off: [14, 16, 36, 38][r.below(4) as usize],
            width,
            mask,
            value,
        });
    }
    Filter::new(atoms).expect("well-formed")
}

/// A frame that satisfies `f` when possible (values written at their offsets).
pub fn frame_for(f: &Filter, r: &mut Rng<'_>) -> Vec<u8> {
    let mut frame: Vec<u8> = (0..64 + r.below(32)).map(|_| r.next_u64() as u8).collect();
    let mut base = 0usize;
    for a in f.atoms() {
        match *a {
            Atom::Cmp {
                off,
                width,
                mask,
                value,
            } => {
                let at = base + off as usize;
                if at + width.bytes() > frame.len() {
                    break;
                }
                let cur = match width {
                    FieldWidth::B1 => frame[at] as u32,
                    FieldWidth::B2 => u16::from_be_bytes([frame[at], frame[at + 1]]) as u32,
                    FieldWidth::B4 => u32::from_be_bytes(frame[at..at + 4].try_into().unwrap()),
                };
                let v = (cur & !mask) | value;
                match width {
                    FieldWidth::B1 => frame[at] = v as u8,
                    FieldWidth::B2 => frame[at..at + 2].copy_from_slice(&(v as u16).to_be_bytes()),
                    FieldWidth::B4 => frame[at..at + 4].copy_from_slice(&v.to_be_bytes()),
                }
            }
            Atom::Shift { .. } => {
                if let Some(b) = a.apply(&frame, base) {
                    base = b;
                }
            }
        }
    }
    frame
}

/// Random insertions and removals; after each one the compiled classifier
/// is updated in place when it can be (leaf tables) and recompiled
/// otherwise, then checked against the classifier. Returns how many
/// updates were done in place.
pub fn check_case(r: &mut Rng<'_>, opts: TrieOptions) -> Result<usize, String> {
    let mut c = Classifier::new();
    let mut ids: Vec<FilterId> = Vec::new();
    let mut filters = Vec::new();
    let compile = |c: &Classifier| -> Result<_, String> {
        let t = compile_trie(c, &opts).map_err(|e| format!("{e}"))?;
        let x = ExecBuffer::new_trie(&t).map_err(|e| format!("{e}"))?;
        Ok((t, x))
    };
    let (mut t, mut x) = compile(&c)?;
    let mut in_place = 0;
    for step in 0..(20 + r.below(60)) {
        let done = if !ids.is_empty() && r.below(5) == 0 {
            let i = r.below(ids.len() as u64) as usize;
            let (f, _) = c
                .remove(ids.swap_remove(i))
                .ok_or("an installed filter is missing")?;
            filters.swap_remove(i);
            t.leaves.remove_in_place(&c, &f)
        } else {
            // Often a sibling of an installed filter differing in its last value.
            let f = match filters.last() {
                Some(last) if r.below(2) == 0 => {
                    sibling(last, r).unwrap_or_else(|| random_filter(r))
                }
                _ => random_filter(r),
            };
            let id = c
                .insert(f.clone(), step as u32 * 7)
                .map_err(|e| format!("{e}"))?;
            ids.push(id);
            filters.push(f);
            t.leaves.insert_in_place(&c, id)
        };
        if done {
            in_place += 1;
        } else {
            (t, x) = compile(&c)?;
        }
        for k in 0..12 {
            let mut frame = if filters.is_empty() || k % 4 == 0 {
                (0..r.below(80)).map(|_| r.next_u64() as u8).collect()
            } else {
                let f = &filters[r.below(filters.len() as u64) as usize];
                frame_for(f, r)
            };
            if k % 5 == 1 {
                frame.truncate(r.below(frame.len() as u64 + 1) as usize);
            }
            if k % 7 == 2 && !frame.is_empty() {
                let i = r.below(frame.len() as u64) as usize;
                frame[i] ^= 1 << r.below(8);
            }
            let want = c.classify(&frame).map(|h| (h.id.0, h.owner));
            // SAFETY: `x` holds `t`'s code and `t.leaves` its tables.
            let got = unsafe { x.classify(&t.leaves, &frame) };
            if got != want {
                return Err(format!(
                    "step {step}: compiled {got:?}, classifier {want:?}, frame {frame:02x?}, filters {filters:?}"
                ));
            }
        }
    }
    Ok(in_place)
}

/// `f` with its last comparison's value changed (a new "connection").
pub fn sibling(f: &Filter, r: &mut Rng<'_>) -> Option<Filter> {
    let mut atoms = f.atoms().to_vec();
    match atoms.last_mut()? {
        Atom::Cmp { mask, value, .. } => *value = (r.next_u64() as u32) & *mask,
        Atom::Shift { .. } => return None,
    }
    Filter::new(atoms).ok()
}
