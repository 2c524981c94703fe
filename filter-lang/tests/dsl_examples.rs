//! Every file in `examples/` compiles, verifies and survives an object
//! round trip; the 1,000-port filter set is classified through one hash
//! dispatch.

use filter_lang::dsl;
use filter_lang::filter::Classifier;
use filter_lang::object::{decode, encode};
use std::path::PathBuf;

fn examples() -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "exo"))
        .map(|p| {
            let s = std::fs::read_to_string(&p).unwrap();
            (p, s)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_example_compiles_verifies_and_round_trips() {
    let all = examples();
    assert_eq!(
        all.len(),
        6,
        "examples: {:?}",
        all.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    for (path, src) in &all {
        assert!(
            src.starts_with("# "),
            "{}: starts with a header comment",
            path.display()
        );
        let c =
            dsl::compile(src).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.render(src)));
        assert!(!c.filters.is_empty(), "{}", path.display());
        assert!(
            c.filter_program.is_none(),
            "{}: filters are atoms",
            path.display()
        );
        if let Some(h) = &c.handler {
            assert_eq!(h.program.spans.len(), h.program.words.len());
            assert!(h.program.spans.iter().all(Option::is_some));
            assert!(h.verified.insn_bound > 0);
        }
        let obj = c.object("example.exo");
        let bytes = encode(&obj).unwrap();
        assert_eq!(decode(&bytes).unwrap(), obj, "{}", path.display());
    }
}

#[test]
fn thousand_ports_share_one_hash_dispatch() {
    let (_, src) = examples()
        .into_iter()
        .find(|(p, _)| p.ends_with("udp_ports_1000.exo"))
        .unwrap();
    let c = dsl::compile(&src).unwrap();
    assert!(c.handler.is_none());
    let ports: Vec<u16> = (0..1000).map(|i| 10007 + 7 * i).collect();
    let mut k = Classifier::new();
    for (i, f) in c.filters.iter().enumerate() {
        k.insert(f.clone(), i as u32).unwrap();
    }
    // Find the comparison groups that dispatch on the UDP destination port:
    // one for IPv4 (after the variable header) and one for IPv6.
    let mut big = Vec::new();
    let mut stack = vec![k.root()];
    while let Some(n) = stack.pop() {
        let node = k.node(n);
        for g in node.cmp_groups() {
            if g.len() >= 1000 {
                big.push(g.children().map(|(v, _)| v).collect::<Vec<_>>());
            }
            stack.extend(g.children().map(|(_, c)| c));
        }
        stack.extend(node.shifts().iter().map(|s| s.child));
    }
    assert_eq!(big.len(), 2, "one 1,000-way dispatch per IP version");
    for mut values in big {
        values.sort();
        assert_eq!(values, ports.iter().map(|&p| p as u32).collect::<Vec<_>>());
    }
    // Classification picks the right port's filter.
    let frame = udp_frame_to(10007 + 7 * 500);
    let hit = k.classify(&frame).expect("port 13507 is in the set");
    assert!(c.filters[hit.owner as usize].matches(&frame));
    assert!(k.classify(&udp_frame_to(10008)).is_none());
}

/// A minimal Ethernet/IPv4/UDP frame to `port`.
fn udp_frame_to(port: u16) -> Vec<u8> {
    let mut f = vec![0u8; 42];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&28u16.to_be_bytes());
    f[23] = 17;
    f[36..38].copy_from_slice(&port.to_be_bytes());
    f[38..40].copy_from_slice(&8u16.to_be_bytes());
    f
}

#[test]
fn filters_atoms_cannot_express_become_one_filter_program() {
    use filter_lang::bpf::interp::Interpreter;
    use filter_lang::pcap::bytecode;
    let src = "filter \"udp port 53\"\nfilter \"len > 100\"\n";
    let c = dsl::compile(src).unwrap();
    assert!(!c.filters.is_empty());
    let words = c
        .filter_program
        .clone()
        .expect("`len > 100` needs bytecode");
    let interp = Interpreter::new(&words).unwrap();
    let frame = vec![0u8; 60];
    assert!(!bytecode::run(&interp, &frame, 60).unwrap());
    assert!(bytecode::run(&interp, &frame, 101).unwrap());
    let obj = c.object("f.exo");
    assert_eq!(decode(&encode(&obj).unwrap()).unwrap(), obj);

    let two = "filter \"len > 100\"\nfilter \"ip[2:2] * 2 > 80\"\n";
    let e = dsl::compile(two).unwrap_err();
    assert_eq!(e.kind, dsl::ErrorKind::TwoBytecodeFilters);
    assert_eq!(e.line_col(two), (2, 9));
}
