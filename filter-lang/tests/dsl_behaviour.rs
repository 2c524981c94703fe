//! Handler-language programs run on crafted frames: the examples' effects
//! (replies checked with etherparse), and the language's semantics
//! (checked arithmetic, field access past variable-length headers, region
//! stores, loops) on the reference interpreter.

mod dsl_support;

use dsl_support::*;
use filter_lang::bpf::spec::verdict::{CONSUMED, DELIVER};

fn example(name: &str) -> String {
    let path = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn udp_echo_replies_with_correct_checksums() {
    let mut h = Harness::new(&example("udp_echo.exo"));
    for (payload, options) in [
        (&b"hello, echo"[..], &[][..]),
        (&b"odd"[..], &[1, 1, 1, 1][..]),
        (&[0xffu8; 1472][..], &[][..]),
        (&b""[..], &[1, 1, 1, 0, 1, 1, 1, 0][..]),
    ] {
        let req = udp_frame(40000, 7, payload, options);
        assert!(h.matches(&req));
        let r = h.run(&req);
        assert_eq!(r.verdict, CONSUMED, "payload of {}", payload.len());
        assert_eq!(r.env.sent.len(), 1);
        let reply = &r.env.sent[0];
        assert_eq!(reply.len(), req.len());
        let (eth, ip, udp, data) = parse_udp(reply);
        assert_eq!((eth.source, eth.destination), (MAC_B, MAC_A));
        assert_eq!((ip.source, ip.destination), (IP_B, IP_A));
        assert_eq!(ip.time_to_live, 64);
        assert_eq!(ip.options.as_slice(), options);
        assert_eq!((udp.source_port, udp.destination_port), (7, 40000));
        assert_eq!(data, payload);
    }
    assert_eq!(h.counters, [4, 0]);
}

#[test]
fn udp_echo_hands_malformed_requests_to_the_owner() {
    let mut h = Harness::new(&example("udp_echo.exo"));
    // A UDP length larger than the frame.
    let mut req = udp_frame(40000, 7, b"abcdefgh", &[]);
    req[38..40].copy_from_slice(&100u16.to_be_bytes());
    let r = h.run(&req);
    assert_eq!((r.verdict, r.env.sent.len()), (DELIVER, 0));
    // Cut inside the UDP header: the fallback.
    let r = h.run(&udp_frame(40000, 7, b"x", &[])[..36]);
    assert_eq!((r.verdict, r.env.sent.len()), (DELIVER, 0));
    // IHL 4 is malformed: the fallback, nothing sent.
    let mut req = udp_frame(40000, 7, b"x", &[]);
    req[14] = 0x44;
    let r = h.run(&req);
    assert_eq!((r.verdict, r.env.sent.len()), (DELIVER, 0));
    assert_eq!(h.counters, [0, 0]);
}

fn rpc(xid: u32, proc: u32, arg: u32) -> Vec<u8> {
    let mut p = Vec::new();
    for v in [xid, proc, arg] {
        p.extend_from_slice(&v.to_be_bytes());
    }
    udp_frame(33000, 5000, &p, &[])
}

#[test]
fn rpc_reply_is_built_field_by_field() {
    let mut h = Harness::new(&example("rpc_reply.exo"));
    // The server process's table (region 1, native u32s).
    for (i, c) in h.regions[1].chunks_exact_mut(4).enumerate() {
        c.copy_from_slice(&(1000 + i as u32).to_le_bytes());
    }
    for (proc, arg, want) in [(1, 41, 42u32), (2, 7, 1007), (2, 255, 1255)] {
        let r = h.run(&rpc(0xabcd, proc, arg));
        assert_eq!(r.verdict, CONSUMED);
        let reply = &r.env.sent[0];
        assert_eq!(reply.len(), 54);
        let (eth, ip, udp, data) = parse_udp(reply);
        assert_eq!((eth.source, eth.destination), (MAC_B, MAC_A));
        assert_eq!((ip.source, ip.destination), (IP_B, IP_A));
        assert!(ip.dont_fragment && !ip.more_fragments);
        assert_eq!(ip.identification, 0x1234);
        assert_eq!((udp.source_port, udp.destination_port), (5000, 33000));
        let word = |i: usize| u32::from_be_bytes(data[4 * i..4 * i + 4].try_into().unwrap());
        assert_eq!((word(0), word(1), word(2)), (0xabcd, 0, want));
    }
    // Unknown procedure, table index out of range, a result over 32 bits,
    // a short request: all go to the server process, nothing is sent.
    for req in [
        rpc(1, 3, 0),
        rpc(1, 2, 256),
        rpc(1, 1, u32::MAX),
        udp_frame(33000, 5000, b"short", &[]),
    ] {
        let r = h.run(&req);
        assert_eq!((r.verdict, r.env.sent.len()), (DELIVER, 0));
    }
    assert_eq!(h.counters, [3]);
}

#[test]
fn vectoring_copies_checks_and_wakes() {
    let mut h = Harness::new(&example("vector_payload.exo"));
    let msgs: Vec<Vec<u8>> = (0..3).map(|i| vec![i as u8 + 1; 100 + i * 7]).collect();
    for m in &msgs {
        let r = h.run(&udp_frame(1234, 6000, m, &[]));
        assert_eq!((r.verdict, r.env.wakeups), (CONSUMED, 1));
    }
    let meta: Vec<u32> = h.regions[1]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(meta[0], 3);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(meta[2 + i] as usize, m.len());
        assert_eq!(&h.regions[0][i * 2048..i * 2048 + m.len()], &m[..]);
        // The payload's own sum, computed during the copy.
        assert_eq!(meta[18 + i], u32::from(internet_sum(m)), "slot {i}");
    }
    // A corrupted payload: counted, dropped, not published.
    let mut bad = udp_frame(1234, 6000, b"corrupted", &[]);
    *bad.last_mut().unwrap() ^= 0x40;
    let r = h.run(&bad);
    assert_eq!((r.verdict, r.env.wakeups), (CONSUMED, 0));
    // No UDP checksum (0): accepted as is.
    let mut unchecked = udp_frame(1234, 6000, b"no checksum", &[]);
    unchecked[40..42].copy_from_slice(&[0, 0]);
    assert_eq!(h.run(&unchecked).verdict, CONSUMED);
    assert_eq!(h.counters, [4, 1, 0]);
    // Fill the ring (the process never consumes): the 17th waits.
    for _ in 4..16 {
        assert_eq!(h.run(&udp_frame(1, 6000, b"m", &[])).verdict, CONSUMED);
    }
    let r = h.run(&udp_frame(1, 6000, b"m", &[]));
    assert_eq!((r.verdict, r.env.wakeups), (DELIVER, 0));
    assert_eq!(h.counters, [16, 1, 1]);
}

/// The folded RFC 1071 sum of `b` (not complemented).
fn internet_sum(b: &[u8]) -> u16 {
    let mut s: u64 = b
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An ARP frame from A (`op` 1: request, 2: reply) with target address
/// `tpa`, padded to 60 bytes as a NIC would.
fn arp_frame(op: u16, tpa: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].fill(0xff);
    f[6..12].copy_from_slice(&MAC_A);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, op as u8]);
    f[22..28].copy_from_slice(&MAC_A);
    f[28..32].copy_from_slice(&IP_A);
    f[38..42].copy_from_slice(&tpa);
    f
}

#[test]
fn arp_requests_for_the_owner_are_answered() {
    let mut h = Harness::new(&example("arp_reply.exo"));
    // The owner's identity: MAC B, address B.
    h.regions[1][0..6].copy_from_slice(&MAC_B);
    h.regions[1][6..10].copy_from_slice(&IP_B);
    let req = arp_frame(1, IP_B);
    let r = h.run(&req);
    assert_eq!((r.verdict, r.env.sent.len()), (CONSUMED, 1));
    let reply = &r.env.sent[0];
    assert_eq!(reply.len(), 60);
    assert_eq!(&reply[0..6], &MAC_A, "to the requester");
    assert_eq!(&reply[6..12], &MAC_B, "from the owner's MAC");
    assert_eq!(&reply[12..22], &[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    assert_eq!(&reply[22..28], &MAC_B, "sender: the owner");
    assert_eq!(&reply[28..32], &IP_B);
    assert_eq!(&reply[32..38], &MAC_A, "target: the requester");
    assert_eq!(&reply[38..42], &IP_A);
    assert!(reply[42..].iter().all(|&b| b == 0), "zero padding");
    // The same request cut to 42 bytes (a tap does not pad): answered.
    assert_eq!(h.run(&req[..42]).env.sent.len(), 1);
    // Another address, a reply addressed to the owner, a non-IPv4
    // request: counted, consumed, nothing sent.
    let mut other_proto = req.clone();
    other_proto[16..18].copy_from_slice(&[0x86, 0xdd]);
    for f in [arp_frame(1, IP_A), arp_frame(2, IP_B), other_proto] {
        let r = h.run(&f);
        assert_eq!((r.verdict, r.env.sent.len()), (CONSUMED, 0));
    }
    assert_eq!(h.counters, [2, 3]);
    // Cut inside the ARP header: the fallback, nothing sent.
    let r = h.run(&req[..30]);
    assert_eq!((r.verdict, r.env.sent.len()), (DELIVER, 0));
}

#[test]
fn per_port_counters_land_in_application_memory() {
    let mut h = Harness::new(&example("port_counter.exo"));
    for port in [53, 53, 123, 65535] {
        let f = udp_frame(1, port, b"q", &[]);
        assert!(h.matches(&f));
        assert_eq!(h.run(&f).verdict, DELIVER);
    }
    let get =
        |port: usize| u64::from_le_bytes(h.regions[0][port * 8..port * 8 + 8].try_into().unwrap());
    assert_eq!((get(53), get(123), get(65535), get(7)), (2, 1, 1, 0));
    assert_eq!(h.counters[0], 4);
    assert_eq!(h.counters[1], 3 * 43 + 43);
}

/// A handler over UDP with `fallback consume`, so fallbacks are visible.
fn semantics(body: &str) -> Harness {
    Harness::new(&format!(
        "filter \"udp\"\nfallback consume\nregion out: bytes[64] writable\nregion words: u32[4] writable\ncounter c\nhandler {{\n{body}\n}}\n"
    ))
}

#[test]
fn arithmetic_never_wraps() {
    let f = udp_frame(1000, 2000, b"payload", &[]);
    let cases = [
        ("let x = udp.sport - udp.dport\n return deliver", CONSUMED),
        ("let x = udp.dport - udp.sport\n return deliver", DELIVER),
        (
            "let x = 0xffffffffffffffff\n let y = x + udp.sport\n return deliver",
            CONSUMED,
        ),
        (
            "let x = 0x100000000\n let y = x * x\n return deliver",
            CONSUMED,
        ),
        (
            "let x = 0xffffffff\n let y = x * x\n return deliver",
            DELIVER,
        ),
        (
            "let s = udp.sport\n let y = 1 << s\n return deliver",
            CONSUMED,
        ),
        ("let y = 1 << (udp.sport - 937)\n return deliver", DELIVER),
        (
            "let y = udp.sport >> (udp.sport - 936)\n return deliver",
            CONSUMED,
        ),
        (
            "let z = udp.sport - 1000\n let y = 5 / z\n return deliver",
            CONSUMED,
        ),
        (
            "let z = udp.sport - 1000\n let y = 5 % z\n return deliver",
            CONSUMED,
        ),
        ("out[0:1] = udp.sport\n return deliver", CONSUMED),
        ("out[0:2] = udp.sport\n return deliver", DELIVER),
        ("words[4] = 1\n return deliver", CONSUMED),
        (
            "words[3] = 0x100000000 - udp.sport + 1000\n return deliver",
            CONSUMED,
        ),
        (
            "words[3] = 0x100000000 - udp.sport + 999\n return deliver",
            DELIVER,
        ),
        (
            "words[3] = 0x100000000 - udp.sport - 1\n return deliver",
            DELIVER,
        ),
    ];
    for (body, want) in cases {
        let mut h = semantics(body);
        assert_eq!(h.run(&f).verdict, want, "{body}");
    }
}

#[test]
fn fields_follow_variable_headers() {
    // 8 bytes of IPv4 options push UDP to offset 42.
    let f = udp_frame(0x1111, 0x2222, b"ABCDEFGH", &[1, 1, 1, 1, 1, 1, 1, 0]);
    let mut h = semantics(
        "if ip.ihl == 7 && offset(udp) == 42 && offset(udp.payload) == 50 \
         && udp.dport == 0x2222 && udp.payload[2:2] == 0x4344 && ip.src == 10.0.0.1 \
         && eth.src == 02:00:00:00:00:aa && ip.version == 4 && ip.flags == IP_DF \
         && pkt[0:1] == 2 && udp[4:2] == 16 { return deliver }\n return consume",
    );
    assert_eq!(h.run(&f).verdict, DELIVER);
    // A payload read past the frame's end: the fallback.
    let mut h = semantics("let x = udp.payload[7:2]\n return deliver");
    assert_eq!(h.run(&f).verdict, CONSUMED);
}

#[test]
fn region_frames_are_written_by_field_name() {
    let f = udp_frame(1, 2, b"", &[]);
    let mut h = semantics(
        "out.ip.version = 4\n out.ip.ihl = 5\n out.ip.flags = IP_DF\n out.ip.frag = 0x1abc\n \
         out.ip.ttl = 9\n out.eth.src = eth.dst\n out.udp.dport = 0xbeef\n \
         if out.ip.flags == 2 && out.ip.frag == 0x1abc && offset(out.udp) == 34 { return deliver }\n \
         return consume",
    );
    assert_eq!(h.run(&f).verdict, DELIVER);
    let out = &h.regions[0];
    assert_eq!(out[14], 0x45);
    assert_eq!(&out[20..22], &[0x5a, 0xbc]);
    assert_eq!(out[22], 9);
    assert_eq!(&out[6..12], &MAC_B);
    assert_eq!(&out[36..38], &[0xbe, 0xef]);
}

#[test]
fn loops_are_bounded_and_break_early() {
    let f = udp_frame(1, 2, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], &[]);
    let mut h = semantics(
        "let sum = 0\n for i in 0..32 {\n if i >= udp.len - 8 { break }\n \
         sum += udp.payload[i]\n }\n words[0] = sum\n count(c, sum)\n return deliver",
    );
    let r = h.run(&f);
    assert_eq!(r.verdict, DELIVER);
    assert_eq!(h.counters, [55]);
    assert_eq!(&h.regions[1][0..4], &55u32.to_le_bytes());
}
