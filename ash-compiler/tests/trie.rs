//! The compiled classifier computes exactly what the merged classifier
//! computes, for random filter sets (sharing prefixes, differing in values,
//! with IHL-style shifts, masks and length tests), through insertions and
//! removals (applied in place to leaf tables when possible, recompiled
//! otherwise), on frames built to match filters, mutated, truncated or
//! random.

use ash_compiler::host::ExecBuffer;
use ash_compiler::trie::{TrieOptions, compile_trie};
use filter_lang::filter::{Atom, Classifier, FieldWidth, Filter, FilterId};
use proptest::prelude::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WIDTHS: [FieldWidth; 3] = [FieldWidth::B1, FieldWidth::B2, FieldWidth::B4];

/// A filter from a small vocabulary so that filters share prefixes and
/// shapes: an "ethertype", a "protocol", an optional header-length shift,
/// then one or two "port" comparisons with values from a small range.
fn random_filter(r: &mut Rng) -> Filter {
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
            full & (r.next() as u32 | 1)
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
fn frame_for(f: &Filter, r: &mut Rng) -> Vec<u8> {
    let mut frame: Vec<u8> = (0..64 + r.below(32)).map(|_| r.next() as u8).collect();
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
fn check_case(seed: u64, opts: TrieOptions) -> usize {
    let mut r = Rng(seed | 1);
    let mut c = Classifier::new();
    let mut ids: Vec<FilterId> = Vec::new();
    let mut filters = Vec::new();
    let mut t = compile_trie(&c, &opts).expect("compiles");
    let mut x = ExecBuffer::new_trie(&t).expect("placed");
    let mut in_place = 0;
    for step in 0..(20 + r.below(60)) {
        let done = if !ids.is_empty() && r.below(5) == 0 {
            let i = r.below(ids.len() as u64) as usize;
            let (f, _) = c.remove(ids.swap_remove(i)).expect("installed");
            filters.swap_remove(i);
            t.leaves.remove_in_place(&c, &f)
        } else {
            // Often a sibling of an installed filter differing in its last value.
            let f = match filters.last() {
                Some(last) if r.below(2) == 0 => {
                    sibling(last, &mut r).unwrap_or_else(|| random_filter(&mut r))
                }
                _ => random_filter(&mut r),
            };
            let id = c.insert(f.clone(), step as u32 * 7).expect("inserted");
            ids.push(id);
            filters.push(f);
            t.leaves.insert_in_place(&c, id)
        };
        if done {
            in_place += 1;
        } else {
            t = compile_trie(&c, &opts).expect("compiles");
            x = ExecBuffer::new_trie(&t).expect("placed");
        }
        for k in 0..12 {
            let mut frame = if filters.is_empty() || k % 4 == 0 {
                (0..r.below(80)).map(|_| r.next() as u8).collect()
            } else {
                let f = &filters[r.below(filters.len() as u64) as usize];
                frame_for(f, &mut r)
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
            assert_eq!(
                got, want,
                "seed {seed}, step {step}, frame {frame:02x?}, filters {filters:?}"
            );
        }
    }
    in_place
}

/// `f` with its last comparison's value changed (a new "connection").
fn sibling(f: &Filter, r: &mut Rng) -> Option<Filter> {
    let mut atoms = f.atoms().to_vec();
    match atoms.last_mut()? {
        Atom::Cmp { mask, value, .. } => *value = (r.next() as u32) & *mask,
        Atom::Shift { .. } => return None,
    }
    Filter::new(atoms).ok()
}

#[test]
fn compiled_trie_matches_the_classifier() {
    let mut in_place = 0;
    for seed in 1..200u64 {
        in_place += check_case(seed * 0x9e37_79b9, TrieOptions::default());
        in_place += check_case(seed * 0x5851_f42d, TrieOptions { linear_max: 0 });
    }
    assert!(
        in_place > 1000,
        "only {in_place} updates were done in place"
    );
}

/// Many filters differing only in a port: one leaf table, filled in place
/// as the filters are installed and emptied as they are removed.
#[test]
fn ten_thousand_ports_go_into_one_leaf_table_in_place() {
    let filter = |port: u32| {
        Filter::new(vec![
            Atom::Cmp {
                off: 12,
                width: FieldWidth::B2,
                mask: 0xffff,
                value: 0x0800,
            },
            Atom::Cmp {
                off: 23,
                width: FieldWidth::B1,
                mask: 0xff,
                value: 17,
            },
            Atom::Shift {
                off: 14,
                width: FieldWidth::B1,
                mask: 0x0f,
                shift: 2,
            },
            Atom::Cmp {
                off: 16,
                width: FieldWidth::B2,
                mask: 0xffff,
                value: 1000 + port,
            },
        ])
        .unwrap()
    };
    let opts = TrieOptions::default();
    let mut c = Classifier::new();
    let mut ids = Vec::new();
    let mut t = compile_trie(&c, &opts).unwrap();
    let mut recompiles = 0;
    for port in 0..10_000u32 {
        let id = c.insert(filter(port), port).unwrap();
        ids.push(id);
        if !t.leaves.insert_in_place(&c, id) {
            t = compile_trie(&c, &opts).unwrap();
            recompiles += 1;
        }
    }
    assert!(
        recompiles <= opts.linear_max + 2,
        "{recompiles} recompilations"
    );
    assert_eq!(t.stats.leaf_groups, 1);
    let x = ExecBuffer::new_trie(&t).unwrap();
    let mut frame = vec![0u8; 60];
    frame[12] = 0x08;
    frame[23] = 17;
    frame[14] = 0x45;
    let probe = |t: &ash_compiler::trie::CompiledTrie, c: &Classifier, frame: &mut Vec<u8>| {
        for port in [0u32, 1, 4321, 9999, 10_000, 20_000] {
            frame[36..38].copy_from_slice(&((1000 + port) as u16).to_be_bytes());
            let want = c.classify(frame).map(|h| (h.id.0, h.owner));
            // SAFETY: `x` holds `t`'s code and `t.leaves` its tables.
            assert_eq!(unsafe { x.classify(&t.leaves, frame) }, want, "port {port}");
        }
    };
    probe(&t, &c, &mut frame);
    // Remove every other filter in place.
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        let (f, _) = c.remove(*id).unwrap();
        assert!(t.leaves.remove_in_place(&c, &f), "removal {i} not in place");
    }
    probe(&t, &c, &mut frame);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn compiled_trie_matches_for_any_seed(seed in any::<u64>(), linear_max in 0usize..6) {
        check_case(seed, TrieOptions { linear_max });
    }
}
