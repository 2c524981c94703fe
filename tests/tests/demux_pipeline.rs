//! The demultiplexer as the kernel runs it, across filter-lang and
//! ash-compiler: pcap-filter expressions and handler-language objects →
//! DPF filters → one merged classifier (owner = binding) → the trie
//! compiler → code in executable memory, kept current by in-place leaf
//! updates while bindings come and go. After every change, every frame of
//! a hostile corpus is classified three ways (filters one by one, the
//! classifier's trie walk, the compiled code) and they must agree; the
//! owner that wins must be one whose filters accept the frame.

use exo_tests::corpus::examples;
use exo_tests::demux::Demux;
use exo_tests::download::build;
use exo_tests::frames::{self, Rng, tcp_frame, udp_frame};
use filter_lang::filter::Filter;
use filter_lang::pcap::{self, Target};

/// The filters of a pcap-filter expression that compiles to atoms.
fn atoms(expr: &str) -> Vec<Filter> {
    match pcap::compile(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e:?}"))
        .target
    {
        Target::Atoms(f) => f,
        Target::Bytecode { reason, .. } => panic!("{expr} needs bytecode: {reason:?}"),
    }
}

/// Checks every frame three ways; returns how many frames were claimed.
fn check_all(d: &Demux, frames: &[Vec<u8>]) -> usize {
    let mut claimed = 0;
    for f in frames {
        let hit = d.check(f).unwrap_or_else(|e| panic!("{e}"));
        if let Some(hit) = hit {
            claimed += 1;
            let filters = d.classifier().filters();
            let (_, filter, owner) = filters
                .iter()
                .find(|(id, _, _)| *id == hit.id)
                .expect("the winner is installed");
            assert_eq!(*owner, hit.owner);
            assert!(filter.matches(f), "the winning filter rejects the frame");
        }
    }
    claimed
}

#[test]
fn a_thousand_port_bindings_claim_exactly_their_ports_and_update_in_place() {
    let mut d = Demux::new(Default::default());
    let mut ids = Vec::new();
    for port in 7000..8000u16 {
        ids.push(
            d.install(atoms(&format!("udp dst port {port}")))
                .expect("install"),
        );
    }
    // The first install compiles; sibling port filters then differ only in
    // their last comparison, which a leaf-table update serves.
    assert!(
        d.in_place_updates >= 900,
        "only {} of 1000 installs were in place ({} compilations)",
        d.in_place_updates,
        d.recompiles
    );
    for (i, port) in (7000..8000u16).enumerate() {
        let hit = d
            .check(&udp_frame(40000, port, b"x"))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("nobody claims port {port}"));
        assert_eq!(hit.owner, ids[i]);
        // The same port over TCP, and a neighbouring unbound port, are nobody's.
        assert_eq!(d.check(&tcp_frame(40000, port, 0x02, b"")).unwrap(), None);
    }
    assert_eq!(d.check(&udp_frame(40000, 6999, b"x")).unwrap(), None);
    assert_eq!(d.check(&udp_frame(40000, 8000, b"x")).unwrap(), None);

    // Remove every other binding: their ports go unclaimed, the rest stay.
    let before = d.in_place_updates;
    for &id in ids.iter().step_by(2) {
        d.remove(id).expect("remove");
    }
    assert!(
        d.in_place_updates > before,
        "no removal was served in place"
    );
    assert!(d.remove(ids[0]).is_err(), "a binding is removed only once");
    for (i, port) in (7000..8000u16).enumerate() {
        let hit = d.check(&udp_frame(40000, port, b"x")).unwrap();
        if i % 2 == 0 {
            assert_eq!(hit, None, "port {port} is still claimed after removal");
        } else {
            assert_eq!(hit.map(|h| h.owner), Some(ids[i]));
        }
    }
    check_all(&d, &frames::corpus(7));
}

#[test]
fn overlapping_bindings_resolve_to_the_most_specific_then_the_oldest() {
    let mut d = Demux::new(Default::default());
    let all_udp = d.install(atoms("udp")).unwrap();
    let port = d.install(atoms("udp dst port 53")).unwrap();
    let port_again = d.install(atoms("udp dst port 53")).unwrap();
    let from_client = d
        .install(atoms("src host 10.0.2.2 and udp dst port 53"))
        .unwrap();

    let dns = udp_frame(1234, 53, b"q");
    let other = udp_frame(1234, 54, b"q");
    assert_eq!(d.check(&dns).unwrap().map(|h| h.owner), Some(from_client));
    assert_eq!(d.check(&other).unwrap().map(|h| h.owner), Some(all_udp));

    d.remove(from_client).unwrap();
    assert_eq!(d.check(&dns).unwrap().map(|h| h.owner), Some(port));
    d.remove(port).unwrap();
    assert_eq!(d.check(&dns).unwrap().map(|h| h.owner), Some(port_again));
    d.remove(port_again).unwrap();
    assert_eq!(d.check(&dns).unwrap().map(|h| h.owner), Some(all_udp));
    d.remove(all_udp).unwrap();
    assert!(d.is_empty());
    assert_eq!(d.check(&dns).unwrap(), None);
}

#[test]
fn the_examples_filters_demultiplex_alike_three_ways() {
    let mut d = Demux::new(Default::default());
    let mut installed = 0;
    for ex in examples() {
        let (c, _) = build(&ex.name, &ex.source);
        let filters = c.object(&ex.name).filters;
        if filters.is_empty() {
            continue;
        }
        d.install(filters).unwrap();
        installed += 1;
    }
    assert!(installed >= 5, "only {installed} examples have filters");
    let frames = frames::corpus(0xe3a);
    let claimed = check_all(&d, &frames);
    assert!(
        claimed > 0 && claimed < frames.len(),
        "{claimed} of {} frames claimed: the corpus should exercise both outcomes",
        frames.len()
    );
}

/// Expressions the churn draws from: ports, hosts, protocols, ARP, and
/// combinations, many overlapping one another.
const EXPRESSIONS: &[&str] = &[
    "udp",
    "tcp",
    "arp",
    "ip",
    "ip6",
    "udp dst port 7",
    "udp dst port 53",
    "udp port 53",
    "tcp dst port 80",
    "tcp src port 80",
    "tcp dst port 80 or tcp dst port 443",
    "udp dst portrange 7000-7010",
    "host 10.0.2.2",
    "src host 10.0.2.2 and udp",
    "dst host 10.0.2.15 and tcp dst port 22",
    "ether dst 52:54:00:12:34:56",
    "ether src 02:00:00:00:00:0c and arp",
    "ip proto 1",
    "net 10.0.0.0/8 and udp",
    "ether broadcast",
];

#[test]
fn random_churn_keeps_the_compiled_code_in_step_with_the_classifier() {
    let filters: Vec<Vec<Filter>> = EXPRESSIONS.iter().map(|e| atoms(e)).collect();
    let mut rng = Rng::new(0xc4u64 << 32 | 0x0de5);
    let mut frames = frames::corpus(0xc4);
    frames.extend((7000..7012).map(|p| udp_frame(1, p, b"")));
    frames.extend([22, 80, 443].map(|p| tcp_frame(1, p, 0x10, b"")));

    let mut d = Demux::new(Default::default());
    let mut claims = 0;
    for step in 0..300 {
        let live = d.live();
        if live.is_empty() || rng.below(3) != 0 {
            // Half fixed expressions, half single ports (which leaf
            // updates serve when their siblings are already compiled).
            let f = if rng.below(2) == 0 {
                filters[rng.below(filters.len() as u64) as usize].clone()
            } else {
                atoms(&format!("udp dst port {}", 7000 + rng.below(12)))
            };
            d.install(f).unwrap_or_else(|e| panic!("step {step}: {e}"));
        } else {
            let id = live[rng.below(live.len() as u64) as usize];
            d.remove(id).unwrap_or_else(|e| panic!("step {step}: {e}"));
        }
        // Every step checked on a sample; every tenth on the whole corpus.
        if step % 10 == 9 {
            claims += check_all(&d, &frames);
        } else {
            for _ in 0..20 {
                let f = &frames[rng.below(frames.len() as u64) as usize];
                d.check(f).unwrap_or_else(|e| panic!("step {step}: {e}"));
            }
        }
    }
    assert!(claims > 0, "the churn never claimed a frame");
    assert!(
        d.in_place_updates > 0 && d.recompiles > 1,
        "the churn should take both update paths ({} in place, {} compilations)",
        d.in_place_updates,
        d.recompiles
    );
}
