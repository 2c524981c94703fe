//! The download pipeline as the kernel runs it, across filter-lang and
//! ash-compiler: handler-language source → `dsl::compile` →
//! `Compiled::object` → `object::encode` → bytes → strict `object::decode`
//! → `verifier::verify` with the kernel's default limits → the JIT
//! (`compile_verified` plain and blinded, `compile` without facts) placed in
//! executable memory → runs on frames with the real `AshHelpers`, compared
//! after every frame with the interpreter running the same object: same
//! verdict, same regions, counters, frames sent, wake-ups and clock reads,
//! and never more instructions than the verifier proved.
//!
//! The frames handlers meet are well-formed, truncated at every length,
//! lying about their lengths, flipped, random, and of maximum size; the
//! frames they send are checked with an independent parser (`etherparse`).

use etherparse::{LinkSlice, NetSlice, SlicedPacket, TransportSlice};
use exo_tests::corpus::{example, examples};
use exo_tests::download::{Download, Handler, build, download};
use exo_tests::engine::{Lockstep, lockstep};
use exo_tests::frames::{
    self, CLIENT_IP, CLIENT_MAC, Ip4, MAX_FRAME, PROTO_UDP, Rng, SERVER_IP, SERVER_MAC, arp_frame,
    udp_frame, udp_frame_with,
};
use filter_lang::bpf::spec::verdict::{CONSUMED, DELIVER};

/// Downloads an example's object the kernel's way and returns its handler.
fn kernel_handler(name: &str) -> (Download, Handler) {
    let ex = example(name);
    let (_, bytes) = build(&ex.name, &ex.source);
    let d = download(&bytes).unwrap_or_else(|e| panic!("{name}: the kernel refuses it: {e}"));
    let h = d
        .handler
        .clone()
        .unwrap_or_else(|| panic!("{name} has no handler"));
    (d, h)
}

fn run(h: &Handler, init: &[(usize, Vec<u8>)], frames: &[Vec<u8>]) -> Lockstep {
    lockstep(h, init, frames, false).unwrap_or_else(|e| panic!("{e}"))
}

fn takes(d: &Download, frame: &[u8]) -> bool {
    d.object.filters.iter().any(|f| f.matches(frame))
}

fn counters(ls: &Lockstep) -> Vec<u64> {
    ls.interp.effects().counters.to_vec()
}

#[test]
fn every_example_takes_the_kernel_path_and_runs_alike_in_both_engines() {
    let all = examples();
    assert!(
        all.iter()
            .filter(|e| e.source.contains("handler {"))
            .count()
            >= 5,
        "the examples with handlers are the point of this test"
    );
    let frames = frames::corpus(0x1d0_c0de);
    for ex in &all {
        let (c, bytes) = build(&ex.name, &ex.source);
        let d =
            download(&bytes).unwrap_or_else(|e| panic!("{}: the kernel refuses it: {e}", ex.name));
        // The kernel decodes exactly what the compiler wrote.
        assert_eq!(d.object, c.object(&ex.name), "{}", ex.name);
        match (&c.handler, &d.handler) {
            (None, None) => continue,
            (Some(ch), Some(h)) => {
                assert_eq!(h.words, ch.program.words, "{}", ex.name);
                assert_eq!(h.spec, ch.spec, "{}", ex.name);
                // Verified again without spans, against the declarations
                // the object carries: the same proof.
                assert_eq!(
                    h.verified.insn_bound, ch.verified.insn_bound,
                    "{}: the kernel's bound differs from the compiler's",
                    ex.name
                );
                for fail_sends in [false, true] {
                    let ls = lockstep(h, &[], &frames, fail_sends)
                        .unwrap_or_else(|e| panic!("{}: {e}", ex.name));
                    // Every helper failure of handler-language code takes the
                    // fallback: a verified DSL handler never faults.
                    if let Some((i, r)) =
                        ls.runs.iter().enumerate().find(|(_, r)| r.verdict.is_err())
                    {
                        panic!("{}: frame {i} faulted: {:?}", ex.name, r.verdict);
                    }
                }
            }
            _ => panic!("{}: the handler was lost on the way", ex.name),
        }
    }
}

/// Checks that `rep` is the echo of `req`: endpoints swapped, TTL 64, the
/// rest of the request kept, valid IPv4 and UDP checksums.
fn check_echo(req: &[u8], rep: &[u8]) {
    assert_eq!(rep.len(), req.len());
    let q = SlicedPacket::from_ethernet(req).expect("the request parses");
    let p = SlicedPacket::from_ethernet(rep).expect("the reply parses");
    let (Some(LinkSlice::Ethernet2(qe)), Some(LinkSlice::Ethernet2(pe))) = (&q.link, &p.link)
    else {
        panic!("not Ethernet II")
    };
    assert_eq!(
        (pe.source(), pe.destination()),
        (qe.destination(), qe.source())
    );
    let (Some(NetSlice::Ipv4(qi)), Some(NetSlice::Ipv4(pi))) = (&q.net, &p.net) else {
        panic!("not IPv4")
    };
    let (qh, ph) = (qi.header().to_header(), pi.header().to_header());
    assert_eq!((ph.source, ph.destination), (qh.destination, qh.source));
    assert_eq!(ph.time_to_live, 64);
    assert_eq!(ph.options.as_slice(), qh.options.as_slice());
    assert_eq!(ph.identification, qh.identification);
    assert_eq!(
        ph.calc_header_checksum(),
        ph.header_checksum,
        "IPv4 header checksum"
    );
    let (Some(TransportSlice::Udp(qu)), Some(TransportSlice::Udp(pu))) =
        (&q.transport, &p.transport)
    else {
        panic!("not UDP")
    };
    assert_eq!(
        (pu.source_port(), pu.destination_port()),
        (qu.destination_port(), qu.source_port())
    );
    assert_eq!(pu.payload(), qu.payload());
    let want = pu
        .to_header()
        .calc_checksum_ipv4(&ph, pu.payload())
        .expect("a UDP datagram of this size");
    assert_eq!(pu.checksum(), want, "UDP checksum");
}

#[test]
fn the_echo_answers_every_valid_request_with_valid_checksums() {
    let (d, h) = kernel_handler("udp_echo.exo");
    let mut rng = Rng::new(7);
    let mut requests = Vec::new();
    for n in [0, 1, 2, 3, 17, 255, 256, 257, 1000, 1471, 1472] {
        requests.push(udp_frame(50_000 + n as u16, 7, &rng.bytes(n)));
    }
    // IP options shift the UDP header; the largest header with the
    // largest payload that fits is a maximum-size frame.
    for words in [1usize, 10] {
        let mut ip = Ip4::new(CLIENT_IP, SERVER_IP, PROTO_UDP);
        ip.options = vec![1; words * 4];
        let n = MAX_FRAME - 14 - 20 - words * 4 - 8;
        requests.push(udp_frame_with(&ip, 1234, 7, &rng.bytes(n)));
    }
    // Ethernet padding after a short datagram travels with the reply.
    let mut padded = udp_frame(999, 7, b"hi");
    padded.resize(60, 0);
    requests.push(padded);
    assert_eq!(requests.iter().map(Vec::len).max(), Some(MAX_FRAME));
    for r in &requests {
        assert!(takes(&d, r), "the echo's filter takes a request");
    }
    let ls = run(&h, &[], &requests);
    assert!(ls.runs.iter().all(|r| r.verdict == Ok(CONSUMED)));
    let sent = &ls.interp.env.sent;
    assert_eq!(sent.len(), requests.len());
    for (req, rep) in requests.iter().zip(sent) {
        check_echo(req, rep);
    }
    assert_eq!(counters(&ls), [requests.len() as u64, 0], "echoed, too_big");
    // The largest frame costs the most and stays within the bound.
    let most = ls.runs.iter().map(|r| r.executed).max().unwrap();
    assert!(most <= h.verified.insn_bound);
}

#[test]
fn the_echo_leaves_what_it_cannot_answer_to_its_owner() {
    let (d, h) = kernel_handler("udp_echo.exo");
    let ok = udp_frame(4000, 7, b"0123456789");
    let mut lying_long = ok.clone();
    lying_long[38..40].copy_from_slice(&200u16.to_be_bytes()); // UDP length
    let mut lying_short = ok.clone();
    lying_short[38..40].copy_from_slice(&3u16.to_be_bytes());
    let mut bad_ihl = ok.clone();
    bad_ihl[14] = 0x44;
    let cut = ok[..40].to_vec();
    // Over 1514 bytes: the kernel drops such frames before they are
    // classified, but the handler defends itself too.
    let jumbo = udp_frame(4000, 7, &[0x55; 1473]);
    let frames = vec![lying_long, bad_ihl, cut, jumbo, lying_short];
    let ls = run(&h, &[], &frames);
    let verdicts: Vec<_> = ls.runs.iter().map(|r| r.verdict).collect();
    assert_eq!(verdicts[..4], [Ok(DELIVER); 4]);
    assert!(
        ls.interp.env.sent.len() <= 1,
        "only the short lie may be echoed"
    );
    assert_eq!(counters(&ls)[1], 1, "too_big counts the jumbo frame");
    // The same requests with the transmit queue full: the send fails and
    // the fallback delivers the request instead.
    let fails = lockstep(&h, &[], &[ok.clone(), ok], true).unwrap_or_else(|e| panic!("{e}"));
    assert!(fails.runs.iter().all(|r| r.verdict == Ok(DELIVER)));
    assert!(fails.interp.env.sent.is_empty());
    assert_eq!(counters(&fails), [0, 0]);
    assert!(takes(&d, &frames[0]));
}

#[test]
fn the_arp_responder_answers_for_its_address_only() {
    let (d, h) = kernel_handler("arp_reply.exo");
    let mut me = SERVER_MAC.to_vec();
    me.extend_from_slice(&SERVER_IP);
    let init = vec![(1, me)];
    let other = [10, 0, 2, 99];
    let frames = vec![
        arp_frame(1, CLIENT_MAC, CLIENT_IP, [0; 6], SERVER_IP),
        arp_frame(1, CLIENT_MAC, CLIENT_IP, [0; 6], other),
        arp_frame(2, CLIENT_MAC, CLIENT_IP, SERVER_MAC, SERVER_IP),
        arp_frame(1, [2, 0, 0, 0, 0, 0x77], [10, 0, 2, 77], [0; 6], SERVER_IP),
        arp_frame(1, CLIENT_MAC, CLIENT_IP, [0; 6], SERVER_IP)[..41].to_vec(),
    ];
    assert!(frames.iter().take(4).all(|f| takes(&d, f)));
    let ls = run(&h, &init, &frames);
    assert!(ls.runs[..4].iter().all(|r| r.verdict == Ok(CONSUMED)));
    let sent = &ls.interp.env.sent;
    assert_eq!(sent.len(), 2, "one reply per request for its address");
    for (rep, (mac, ip)) in sent.iter().zip([
        (CLIENT_MAC, CLIENT_IP),
        ([2, 0, 0, 0, 0, 0x77], [10, 0, 2, 77]),
    ]) {
        assert_eq!(rep.len(), 60, "padded to the Ethernet minimum");
        assert!(rep[42..].iter().all(|&b| b == 0));
        let p = SlicedPacket::from_ethernet(rep).expect("the reply parses");
        let Some(LinkSlice::Ethernet2(e)) = &p.link else {
            panic!("not Ethernet II")
        };
        assert_eq!((e.source(), e.destination()), (SERVER_MAC, mac));
        let Some(NetSlice::Arp(a)) = &p.net else {
            panic!("not ARP")
        };
        let a = a
            .to_packet()
            .try_eth_ipv4()
            .expect("ARP for IPv4 over Ethernet");
        assert_eq!(a.operation, etherparse::ArpOperation::REPLY);
        assert_eq!((a.sender_mac, a.sender_ipv4), (SERVER_MAC, SERVER_IP));
        assert_eq!((a.target_mac, a.target_ipv4), (mac, ip));
    }
    // replied, ignored (the other address, the reply, the cut request).
    assert_eq!(counters(&ls), [2, 2]);
    assert_eq!(
        ls.runs[4].verdict,
        Ok(DELIVER),
        "a cut request takes the fallback"
    );
}

fn rpc(xid: u32, proc: u32, arg: u32) -> Vec<u8> {
    let p: Vec<u8> = [xid, proc, arg]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    udp_frame(7777, 5000, &p)
}

#[test]
fn the_rpc_server_answers_increment_and_lookup_in_the_kernel() {
    let (d, h) = kernel_handler("rpc_reply.exo");
    let table: Vec<u8> = (0..256u32)
        .flat_map(|i| (i * 3 + 1).to_le_bytes())
        .collect();
    let frames = vec![
        rpc(1, 1, 41),
        rpc(2, 2, 7),
        rpc(3, 2, 255),
        rpc(4, 2, 256),
        rpc(5, 3, 0),
        rpc(6, 1, u32::MAX),
        udp_frame(7777, 5000, &[0; 8]),
    ];
    assert!(frames.iter().all(|f| takes(&d, f)));
    let ls = run(&h, &[(1, table)], &frames);
    let verdicts: Vec<_> = ls.runs.iter().map(|r| r.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Ok(CONSUMED),
            Ok(CONSUMED),
            Ok(CONSUMED),
            Ok(DELIVER),
            Ok(DELIVER),
            Ok(DELIVER),
            Ok(DELIVER)
        ]
    );
    let sent = &ls.interp.env.sent;
    assert_eq!(sent.len(), 3);
    for (rep, (xid, result)) in sent.iter().zip([(1u32, 42u32), (2, 22), (3, 766)]) {
        assert_eq!(rep.len(), 54);
        let p = SlicedPacket::from_ethernet(rep).expect("the reply parses");
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!("not IPv4")
        };
        let ih = ip.header().to_header();
        assert_eq!(ih.calc_header_checksum(), ih.header_checksum);
        assert_eq!((ih.source, ih.destination), (SERVER_IP, CLIENT_IP));
        let Some(TransportSlice::Udp(u)) = &p.transport else {
            panic!("not UDP")
        };
        assert_eq!((u.source_port(), u.destination_port()), (5000, 7777));
        let want = u.to_header().calc_checksum_ipv4(&ih, u.payload()).unwrap();
        assert_eq!(u.checksum(), want);
        let words: Vec<u32> = u
            .payload()
            .chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(words, [xid, 0, result]);
    }
    assert_eq!(counters(&ls), [3], "answered");
}

#[test]
fn message_vectoring_stores_payloads_verifies_checksums_and_wakes() {
    let (d, h) = kernel_handler("vector_payload.exo");
    let mut rng = Rng::new(6000);
    let mut frames = Vec::new();
    let mut payloads = Vec::new();
    for i in 0..17usize {
        let p = rng.bytes([0, 1, 2, 63, 1472][i % 5]);
        frames.push(udp_frame(6001, 6000, &p));
        payloads.push(p);
    }
    // A corrupted payload (checksum kept) is counted and dropped; it does
    // not take a slot. It goes first so the ring fills afterwards.
    let mut bad = udp_frame(6001, 6000, b"payload");
    *bad.last_mut().unwrap() ^= 0x40;
    frames.insert(0, bad);
    assert!(frames.iter().all(|f| takes(&d, f)));
    let ls = run(&h, &[], &frames);
    assert_eq!(ls.runs[0].verdict, Ok(CONSUMED));
    assert!(ls.runs[1..17].iter().all(|r| r.verdict == Ok(CONSUMED)));
    assert_eq!(
        ls.runs[17].verdict,
        Ok(DELIVER),
        "the 17th finds the ring full"
    );
    // stored, bad_checksum, ring_full
    assert_eq!(counters(&ls), [16, 1, 1]);
    assert_eq!(ls.interp.env.wakeups, 16);
    let e = ls.interp.effects();
    let (ring, meta) = (e.regions[0], e.regions[1]);
    let meta: Vec<u32> = meta
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(meta[0], 16, "producer index");
    for (slot, p) in payloads.iter().take(16).enumerate() {
        assert_eq!(meta[2 + slot] as usize, p.len());
        assert_eq!(&ring[slot * 2048..slot * 2048 + p.len()], p.as_slice());
        assert_eq!(meta[18 + slot], u32::from(frames::checksum(p, 0)));
    }
}

#[test]
fn port_counters_land_in_the_owners_arrays() {
    let (_, h) = kernel_handler("port_counter.exo");
    let frames = vec![
        udp_frame(1, 53, b"a"),
        udp_frame(2, 53, b"bb"),
        udp_frame(3, 65535, b""),
        frames::tcp_frame(4, 80, 0x02, b""),
        frames::tcp_frame(5, 0, 0x10, b"xyz"),
    ];
    let ls = run(&h, &[], &frames);
    assert!(ls.runs.iter().all(|r| r.verdict == Ok(DELIVER)));
    let e = ls.interp.effects();
    let at = |r: &[u8], i: usize| u64::from_le_bytes(r[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!(
        (at(e.regions[0], 53), at(e.regions[0], 65535)),
        (2, 1),
        "UDP ports"
    );
    assert_eq!(
        (at(e.regions[1], 80), at(e.regions[1], 0)),
        (1, 1),
        "TCP ports"
    );
    let octets: usize = frames.iter().map(Vec::len).sum();
    assert_eq!(counters(&ls), [5, octets as u64], "frames, octets");
    // Three 8-byte counters written per frame: the array slot and nothing else.
    assert_eq!(ls.interp.written, [3 * 8, 2 * 8]);
}

/// Handlers written for this test: loops, division and modulo by frame
/// values, and the handler language's "nothing wraps" fallbacks.
const LOOPS: &str = r#"
filter "udp"
region out: u64[8] writable
counter runs
fallback consume
handler {
    count(runs)
    let s = 0
    for i in 0..32 {
        if offset(udp.payload) + i >= pkt.len { break }
        s += udp.payload[i]
    }
    out[0] = s
    out[1] = out[1] + pkt.len % 13
    out[2] = s / (udp.sport % 7)
    out[3] = udp.dport - udp.sport
    out[4] = now()
    return deliver
}
"#;

const TCP_FLAGS: &str = r#"
filter "tcp"
region hdr: bytes[64] writable
region seen: u32[4] writable
counter syns, fins
handler {
    if tcp.flags & TCP_SYN != 0 {
        count(syns)
        copy(hdr, 0, offset(tcp), 20)
        seen[0] += 1
        return consume
    }
    if tcp.flags & TCP_FIN != 0 {
        count(fins)
        wake()
    }
    seen[1] = tcp.window
    return deliver
}
"#;

const NO_WRAP: &str = r#"
filter "udp dst port 9"
region out: bytes[16] writable
counter ok
fallback consume
handler {
    let a = udp.payload[0:8]
    let b = udp.payload[8:8]
    out[0:8] = a + b
    out[8:4] = a
    count(ok)
    return deliver
}
"#;

fn source_handler(name: &str, src: &str) -> Handler {
    let (_, bytes) = build(name, src);
    download(&bytes)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .handler
        .unwrap_or_else(|| panic!("{name} has a handler"))
}

#[test]
fn handlers_written_here_run_alike_on_every_frame() {
    let mut frames = frames::corpus(0xbad_f00d);
    // Operands that fit, for the no-wrap handler's normal end.
    frames.push(udp_frame(1, 9, &[0; 16]));
    for (name, src) in [
        ("loops.exo", LOOPS),
        ("tcp_flags.exo", TCP_FLAGS),
        ("no_wrap.exo", NO_WRAP),
    ] {
        let h = source_handler(name, src);
        let ls = lockstep(&h, &[], &frames, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            ls.runs.iter().all(|r| r.verdict.is_ok()),
            "{name}: a DSL handler never faults"
        );
        // Both verdicts occur: the corpus reaches the fallbacks and the
        // normal ends.
        for v in [CONSUMED, DELIVER] {
            assert!(
                ls.runs.iter().any(|r| r.verdict == Ok(v)),
                "{name}: no frame gave verdict {v}"
            );
        }
    }
}

#[test]
fn nothing_wraps_in_either_engine() {
    let h = source_handler("no_wrap.exo", NO_WRAP);
    let pay = |a: u64, b: u64| udp_frame(1, 9, &[a.to_be_bytes(), b.to_be_bytes()].concat());
    let frames = vec![
        pay(1, 2),
        pay(u64::MAX, 1),
        pay(1 << 32, 5),
        udp_frame(1, 9, &[0; 15]),
    ];
    let ls = run(&h, &[], &frames);
    let v: Vec<_> = ls.runs.iter().map(|r| r.verdict).collect();
    // 1 + 2 fits; MAX + 1 overflows; 2^32 does not fit 4 bytes; 15 bytes
    // hold no second operand: all but the first take `fallback consume`.
    assert_eq!(v, [Ok(DELIVER), Ok(CONSUMED), Ok(CONSUMED), Ok(CONSUMED)]);
    assert_eq!(counters(&ls), [1]);
    let out = ls.interp.effects().regions[0].to_vec();
    // The third frame's sum was stored before its second store failed.
    assert_eq!(out[0..8], ((1u64 << 32) + 5).to_be_bytes());
    assert_eq!(out[8..12], 1u32.to_be_bytes());
}

#[test]
fn filter_programs_are_verified_and_calls_refused() {
    use exo_tests::download::Refusal;
    use filter_lang::bpf::insn::Insn;
    let (_, bytes) = build("len.exo", "filter \"udp and len > 100\"\n");
    let d = download(&bytes).unwrap_or_else(|e| panic!("the kernel refuses it: {e}"));
    let words = d
        .object
        .filter_program
        .clone()
        .expect("`len` needs a filter program");
    assert!(d.object.filters.is_empty() && d.filter_program.is_some());
    // The program's verdicts are the expression's.
    let p = Handler {
        words,
        spec: filter_lang::bpf::spec::ProgramSpec::new(filter_lang::bpf::spec::ProgramType::Packet),
        verified: d.filter_program.clone().unwrap(),
    };
    let frames = [
        udp_frame(1, 9, &[0u8; 100]),
        udp_frame(1, 9, b"x"),
        frames::tcp_frame(1, 9, 0x10, &[0u8; 100]),
    ];
    let ls = run(&p, &[], &frames);
    let verdicts: Vec<u64> = ls.runs.iter().map(|r| r.verdict.unwrap()).collect();
    assert_eq!(verdicts, [1, 0, 0]);
    // A filter program that calls a helper is refused at its instruction.
    let mut object = d.object.clone();
    object.filter_program = Some(vec![
        Insn::new(0x85, 0, 0, 0, 5),
        Insn::new(0x95, 0, 0, 0, 0),
    ]);
    let bytes = filter_lang::object::encode(&object).unwrap();
    assert!(matches!(
        download(&bytes),
        Err(Refusal::FilterProgramCalls(0))
    ));
}
