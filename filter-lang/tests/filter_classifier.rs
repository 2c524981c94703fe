//! The merged classifier against one-by-one classification, on random filter
//! sets (shared prefixes, many filters differing only in a value, shift
//! atoms, identical filters) and random frames (truncated, matching by
//! construction, noise), through insertions and removals.

mod filter_support;

use filter_lang::filter::{
    Atom, Classifier, FieldWidth, Filter, FilterId, classify_one_by_one, may_overlap, wire,
};
use filter_support::udp_dport;
use proptest::prelude::*;

/// Atom shapes from small pools so filters share prefixes and shapes.
fn atom() -> impl Strategy<Value = Atom> {
    let width = prop_oneof![
        Just(FieldWidth::B1),
        Just(FieldWidth::B2),
        Just(FieldWidth::B4)
    ];
    let cmp = (
        prop::sample::select(vec![0u16, 1, 2, 6, 12, 13, 14, 20, 23, 30]),
        width.clone(),
        prop::sample::select(vec![0xffff_ffffu32, 0x0f, 0xf0, 0x1fff, 0x1, 0]),
        prop::sample::select(vec![0u32, 1, 2, 5, 6, 17, 0x45, 0x800, 0x1fff, 0xffff_ffff]),
    )
        .prop_map(|(off, width, mask, value)| {
            let mask = mask & width.full_mask();
            Atom::Cmp {
                off,
                width,
                mask,
                value: value & mask,
            }
        });
    let shift = prop::sample::select(vec![
        (14u16, FieldWidth::B1, 0x0fu32, 2u8),
        (0, FieldWidth::B1, 0x03, 1),
        (2, FieldWidth::B2, 0x000f, 0),
    ])
    .prop_map(|(off, width, mask, shift)| Atom::Shift {
        off,
        width,
        mask,
        shift,
    });
    prop_oneof![4 => cmp, 1 => shift]
}

/// A filter set: random filters plus a "port table" of filters that differ
/// only in the value of their last atom.
fn filter_set() -> impl Strategy<Value = Vec<Filter>> {
    let random = prop::collection::vec(prop::collection::vec(atom(), 0..6), 0..12);
    let table = (
        prop::collection::vec(atom(), 0..4),
        prop::collection::vec(any::<u16>(), 0..40),
        any::<bool>(),
    );
    (random, table).prop_map(|(random, (prefix, ports, shifted))| {
        let mut out: Vec<Filter> = random
            .into_iter()
            .map(|a| Filter::new(a).expect("strategy builds valid atoms"))
            .collect();
        for p in ports {
            let mut atoms = prefix.clone();
            if shifted {
                atoms.push(Atom::Shift {
                    off: 14,
                    width: FieldWidth::B1,
                    mask: 0x0f,
                    shift: 2,
                });
            }
            atoms.push(Atom::Cmp {
                off: 16,
                width: FieldWidth::B2,
                mask: 0xffff,
                value: p as u32 & 0x00ff,
            });
            out.push(Filter::new(atoms).expect("valid"));
        }
        out
    })
}

/// Rewrites `frame` so that it satisfies `filter` as far as later atoms do
/// not overwrite earlier ones.
fn satisfy(filter: &Filter, frame: &mut Vec<u8>) {
    let mut base = 0usize;
    for a in filter.atoms() {
        let (off, width) = match *a {
            Atom::Cmp { off, width, .. } | Atom::Shift { off, width, .. } => (off, width),
        };
        let start = base + off as usize;
        let end = start + width.bytes();
        if end > 2048 {
            return;
        }
        if frame.len() < end {
            frame.resize(end, 0x5a);
        }
        let mut field = 0u32;
        for &b in &frame[start..end] {
            field = field << 8 | b as u32;
        }
        match *a {
            Atom::Cmp { mask, value, .. } => {
                let v = (field & !mask) | value;
                let bytes = v.to_be_bytes();
                frame[start..end].copy_from_slice(&bytes[4 - width.bytes()..]);
            }
            Atom::Shift { mask, shift, .. } => base += ((field & mask) as usize) << shift,
        }
    }
}

fn frames(filters: &[Filter], seeds: &[(usize, Vec<u8>, usize)]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (pick, noise, cut) in seeds {
        let mut f = noise.clone();
        out.push(f.clone());
        if !filters.is_empty() {
            satisfy(&filters[pick % filters.len()], &mut f);
            out.push(f.clone());
            // The same frame truncated.
            f.truncate(cut % (f.len() + 1));
            out.push(f);
        }
    }
    out
}

fn check_all(c: &Classifier, frames: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let installed = c.filters();
    for fr in frames {
        let want = classify_one_by_one(installed.iter().copied(), fr);
        prop_assert_eq!(c.classify(fr), want, "frame {:02x?}", fr);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn merged_trie_equals_one_by_one(
        set in filter_set(),
        seeds in prop::collection::vec(
            (any::<usize>(), prop::collection::vec(any::<u8>(), 0..80), any::<usize>()),
            1..24),
        removals in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut c = Classifier::new();
        let mut ids: Vec<FilterId> = Vec::new();
        for (i, f) in set.iter().enumerate() {
            ids.push(c.insert(f.clone(), i as u32).unwrap());
        }
        let frames = frames(&set, &seeds);
        check_all(&c, &frames)?;
        for r in removals {
            if ids.is_empty() {
                break;
            }
            let id = ids.swap_remove(r % ids.len());
            prop_assert!(c.remove(id).is_some());
            prop_assert!(c.remove(id).is_none());
            check_all(&c, &frames)?;
        }
        // Re-insert after removals: new ids are larger than all old ones.
        if let Some(f) = set.first() {
            let id = c.insert(f.clone(), 99).unwrap();
            prop_assert!(ids.iter().all(|&old| old < id));
            check_all(&c, &frames)?;
        }
    }

    /// `may_overlap` never misses a real overlap: a frame built to satisfy
    /// both filters that does satisfy both must be reported.
    #[test]
    fn overlap_is_never_missed(
        set in filter_set(),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        a in any::<usize>(), b in any::<usize>(),
    ) {
        prop_assume!(!set.is_empty());
        let fa = &set[a % set.len()];
        let fb = &set[b % set.len()];
        let mut fr = noise;
        satisfy(fa, &mut fr);
        satisfy(fb, &mut fr);
        if fa.matches(&fr) && fb.matches(&fr) {
            prop_assert!(may_overlap(fa, fb));
        }
    }

    #[test]
    fn wire_round_trip(atoms in prop::collection::vec(atom(), 0..10)) {
        let f = Filter::new(atoms).unwrap();
        prop_assert_eq!(wire::decode(&wire::encode(&f)), Ok(f));
    }

    #[test]
    fn wire_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        let _ = wire::decode(&bytes);
    }
}

#[test]
fn removing_everything_prunes_to_the_root() {
    let mut c = Classifier::new();
    let mut ids = Vec::new();
    for port in 0..1000u16 {
        ids.push(c.insert(udp_dport(port), u32::from(port)).unwrap());
    }
    // ethertype, proto, shift: shared; 1000 leaves behind one hash node.
    assert_eq!(c.node_count(), 1 + 3 + 1000);
    let shift_node = c.node(c.root()).cmp_groups()[0].get(0x800).unwrap();
    let shift_node = c.node(shift_node).cmp_groups()[0].get(17).unwrap();
    let after_shift = c.node(shift_node).shifts()[0].child;
    assert_eq!(c.node(after_shift).cmp_groups().len(), 1);
    assert_eq!(c.node(after_shift).cmp_groups()[0].len(), 1000);
    for id in ids {
        c.remove(id).unwrap();
    }
    assert_eq!(c.node_count(), 1);
    assert!(c.is_empty());
    assert_eq!(c.node(c.root()).max_depth(), 0);
}

#[test]
fn most_atoms_wins_then_earliest() {
    let eth_ip = Atom::Cmp {
        off: 12,
        width: FieldWidth::B2,
        mask: 0xffff,
        value: 0x800,
    };
    let udp = Atom::Cmp {
        off: 23,
        width: FieldWidth::B1,
        mask: 0xff,
        value: 17,
    };
    let mut c = Classifier::new();
    let ip = c.insert(Filter::new(vec![eth_ip]).unwrap(), 1).unwrap();
    let ip_udp = c
        .insert(Filter::new(vec![eth_ip, udp]).unwrap(), 2)
        .unwrap();
    let ip_udp2 = c
        .insert(Filter::new(vec![udp, eth_ip]).unwrap(), 3)
        .unwrap();
    let mut frame = vec![0u8; 40];
    frame[12] = 0x08;
    assert_eq!(c.classify(&frame).map(|h| h.id), Some(ip));
    frame[23] = 17;
    let hit = c.classify(&frame).unwrap();
    assert_eq!((hit.id, hit.owner), (ip_udp, 2));
    c.remove(ip_udp).unwrap();
    assert_eq!(c.classify(&frame).map(|h| h.id), Some(ip_udp2));
    // Truncated before the protocol byte: only the ethertype filter holds.
    assert_eq!(c.classify(&frame[..20]).map(|h| h.id), Some(ip));
    assert_eq!(c.classify(&frame[..13]), None);
}

#[test]
fn conflicts_exact_without_shifts() {
    let port = |p: u32| {
        Filter::new(vec![
            Atom::Cmp {
                off: 12,
                width: FieldWidth::B2,
                mask: 0xffff,
                value: 0x800,
            },
            Atom::Cmp {
                off: 36,
                width: FieldWidth::B2,
                mask: 0xffff,
                value: p,
            },
        ])
        .unwrap()
    };
    let mut c = Classifier::new();
    let a = c.insert(port(53), 1).unwrap();
    let _b = c.insert(port(80), 2).unwrap();
    // Any IPv4 frame: overlaps both.
    let ip = Filter::new(vec![Atom::Cmp {
        off: 12,
        width: FieldWidth::B2,
        mask: 0xffff,
        value: 0x800,
    }])
    .unwrap();
    assert_eq!(c.conflicts(&ip).len(), 2);
    assert_eq!(c.conflicts(&port(53)), vec![a]);
    assert!(c.conflicts(&port(54)).is_empty());
    // Low byte of port 53 is 0x35; a one-byte test of 0x35 overlaps only 53.
    let low = Filter::new(vec![Atom::Cmp {
        off: 37,
        width: FieldWidth::B1,
        mask: 0xff,
        value: 0x35,
    }])
    .unwrap();
    assert_eq!(c.conflicts(&low), vec![a]);
    // A self-contradictory filter overlaps nothing.
    let never = Filter::new(vec![
        Atom::Cmp {
            off: 37,
            width: FieldWidth::B1,
            mask: 0xff,
            value: 1,
        },
        Atom::Cmp {
            off: 37,
            width: FieldWidth::B1,
            mask: 0xff,
            value: 2,
        },
    ])
    .unwrap();
    assert!(c.conflicts(&never).is_empty());
}

#[test]
fn conflicts_conservative_across_shift_bases() {
    let ihl = Atom::Shift {
        off: 14,
        width: FieldWidth::B1,
        mask: 0x0f,
        shift: 2,
    };
    let dport = |p| Atom::Cmp {
        off: 16,
        width: FieldWidth::B2,
        mask: 0xffff,
        value: p,
    };
    let a = Filter::new(vec![ihl, dport(53)]).unwrap();
    let b = Filter::new(vec![ihl, dport(80)]).unwrap();
    // Same base: exact, no overlap.
    assert!(!may_overlap(&a, &b));
    // Absolute byte 36 vs the shifted base: may be the same byte.
    let abs = Filter::new(vec![Atom::Cmp {
        off: 36,
        width: FieldWidth::B2,
        mask: 0xffff,
        value: 80,
    }])
    .unwrap();
    assert!(may_overlap(&a, &abs));
}

#[test]
fn invalid_atoms_are_rejected() {
    use filter_lang::filter::FilterError;
    assert!(matches!(
        Filter::new(vec![Atom::Cmp {
            off: 0,
            width: FieldWidth::B1,
            mask: 0x1ff,
            value: 0
        }]),
        Err(FilterError::MaskTooWide { .. })
    ));
    assert!(matches!(
        Filter::new(vec![Atom::Cmp {
            off: 0,
            width: FieldWidth::B1,
            mask: 0x0f,
            value: 0x10
        }]),
        Err(FilterError::ValueOutsideMask { .. })
    ));
    assert!(matches!(
        Filter::new(vec![Atom::Shift {
            off: 0,
            width: FieldWidth::B4,
            mask: 1,
            shift: 40
        }]),
        Err(FilterError::ShiftTooLarge { .. })
    ));
    // A huge shifted base never faults, it just fails to match.
    let f = Filter::new(vec![
        Atom::Shift {
            off: 0,
            width: FieldWidth::B4,
            mask: 0xffff_ffff,
            shift: 16,
        },
        Atom::Shift {
            off: 0,
            width: FieldWidth::B4,
            mask: 0xffff_ffff,
            shift: 16,
        },
        Atom::Cmp {
            off: 0,
            width: FieldWidth::B1,
            mask: 0,
            value: 0,
        },
    ])
    .unwrap();
    assert!(!f.matches(&[0xff; 64]));
}
