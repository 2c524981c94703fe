//! The compiled classifier computes exactly what the merged classifier
//! computes (see `ash_compiler::difftest::trie` for the cases), and a
//! port-per-filter set goes into one leaf table, updated in place.

#[path = "../../filter-lang/tests/filter_support/mod.rs"]
mod filter_support;

use ash_compiler::difftest::trie::{Rng, check_case};
use ash_compiler::host::ExecBuffer;
use ash_compiler::trie::{TrieOptions, compile_trie};
use filter_lang::filter::{Atom, Classifier, FieldWidth, Filter};
use filter_support::udp_dport;
use proptest::prelude::*;

#[test]
fn compiled_trie_matches_the_classifier() {
    let mut in_place = 0;
    for seed in 1..200u64 {
        for (s, opts) in [
            (seed * 0x9e37_79b9, TrieOptions::default()),
            (
                seed * 0x5851_f42d,
                TrieOptions {
                    linear_max: 0,
                    ..TrieOptions::default()
                },
            ),
            (
                seed * 0x2545_f491,
                TrieOptions {
                    blinding: Some(seed),
                    ..TrieOptions::default()
                },
            ),
        ] {
            match check_case(&mut Rng::from_seed(s), opts) {
                Ok(n) => in_place += n,
                Err(e) => panic!("seed {s}: {e}"),
            }
        }
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
    let opts = TrieOptions::default();
    let mut c = Classifier::new();
    let mut ids = Vec::new();
    let mut t = compile_trie(&c, &opts).unwrap();
    let mut recompiles = 0;
    for port in 0..10_000u32 {
        let id = c.insert(udp_dport((1000 + port) as u16), port).unwrap();
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
        let opts = TrieOptions {
            linear_max,
            blinding: (seed & 1 == 1).then_some(seed),
        };
        let r = check_case(&mut Rng::from_seed(seed), opts);
        prop_assert!(r.is_ok(), "{:?}", r);
    }
}

/// With blinding, no filter value or mask appears in the compiled code (as
/// an immediate or as a dispatch-table key); without it they do.
#[test]
fn blinding_keeps_filter_constants_out_of_code() {
    let distinctive = [0x5a3c_96e1u32, 0x3c5a_e196, 0x69a5_c33c];
    let mut c = Classifier::new();
    // One value in a compare chain, with a mask.
    let f = Filter::new(vec![Atom::Cmp {
        off: 30,
        width: FieldWidth::B4,
        mask: distinctive[1],
        value: distinctive[0] & distinctive[1],
    }])
    .unwrap();
    c.insert(f, 1).unwrap();
    // Many values whose children continue (not leaves): a dispatch table
    // placed after the code.
    for i in 0..12u32 {
        let f = Filter::new(vec![
            Atom::Cmp {
                off: 12,
                width: FieldWidth::B4,
                mask: u32::MAX,
                value: distinctive[2] ^ i,
            },
            Atom::Cmp {
                off: 20,
                width: FieldWidth::B1,
                mask: 0xff,
                value: 6,
            },
        ])
        .unwrap();
        c.insert(f, 2).unwrap();
    }
    let contains = |code: &[u8], v: u32| code.windows(4).any(|w| w == v.to_le_bytes());
    let plain = compile_trie(&c, &TrieOptions::default()).unwrap();
    assert!(
        plain.stats.perfect_groups + plain.stats.open_groups == 1,
        "{:?}",
        plain.stats
    );
    assert!(contains(&plain.code, distinctive[0] & distinctive[1]));
    assert!(contains(&plain.code, distinctive[1]));
    assert!(contains(&plain.code, distinctive[2] ^ 3));
    let blinded = compile_trie(
        &c,
        &TrieOptions {
            blinding: Some(99),
            ..TrieOptions::default()
        },
    )
    .unwrap();
    assert!(!contains(&blinded.code, distinctive[0] & distinctive[1]));
    assert!(!contains(&blinded.code, distinctive[1]));
    for i in 0..12u32 {
        assert!(!contains(&blinded.code, distinctive[2] ^ i), "key {i}");
    }
}
