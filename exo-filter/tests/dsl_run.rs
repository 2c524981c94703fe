//! `exo-filter check|compile|run` on the examples and crafted captures:
//! verdict counts, helper effects (replies checked with etherparse, region
//! contents, counters, wake-ups), instruction counts against the verifier's
//! bound, objects behaving like their sources, and exit codes.

#[path = "../../filter-lang/tests/dsl_support/mod.rs"]
mod dsl_support;

use dsl_support::{IP_A, IP_B, MAC_A, MAC_B, parse_udp, udp_frame};
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

fn write_pcap(name: &str, frames: &[Vec<u8>]) -> PathBuf {
    let path = tmp(name);
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write_packet(&PcapPacket::new(
            Duration::from_millis(i as u64),
            f.len() as u32,
            f,
        ))
        .unwrap();
    }
    path
}

fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let mut r = PcapReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.unwrap().data.into_owned());
    }
    out
}

/// Runs exo-filter; returns (exit code, stdout).
fn exo(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_exo-filter"))
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .unwrap();
    let mut text = String::from_utf8(out.stdout).unwrap();
    text.push_str(&String::from_utf8(out.stderr).unwrap());
    (out.status.code().unwrap(), text)
}

fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"))
}

/// (max per frame, verifier bound) from the instructions line.
fn insns(out: &str) -> (u64, u64) {
    let l = line(out, "instructions: ");
    let nums: Vec<u64> = l
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums[1], nums[2])
}

#[test]
fn udp_echo_over_a_capture() {
    let payloads: [&[u8]; 3] = [b"ping", b"a longer datagram, 41 bytes of payload..", b""];
    let mut frames: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| udp_frame(40000, 7, p, &[]))
        .collect();
    frames.push(udp_frame(40000, 9, b"discard port", &[]));
    let mut lying = udp_frame(40000, 7, b"lying length", &[]);
    lying[38..40].copy_from_slice(&200u16.to_be_bytes());
    frames.push(lying);
    let cap = write_pcap("echo_in.pcap", &frames);
    let sent = tmp("echo_out.pcap");
    let (code, out) = exo(&[&"run", &example("udp_echo.exo"), &cap, &"--sent", &sent]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(line(&out, "frames: "), "frames: 5");
    assert_eq!(line(&out, "filter: "), "filter: 4 matched, 1 not matched");
    assert_eq!(
        line(&out, "handler runs: "),
        "handler runs: 4 (consume 3, deliver 1, faults 0)"
    );
    assert_eq!(line(&out, "counter echoed: "), "counter echoed: 3");
    let (max, bound) = insns(&out);
    assert!(max > 0 && max <= bound, "{out}");
    let replies = read_pcap(&sent);
    assert_eq!(replies.len(), 3);
    let bytes: usize = replies.iter().map(Vec::len).sum();
    assert_eq!(
        line(&out, "frames sent: "),
        format!("frames sent: 3 ({bytes} bytes)")
    );
    for (reply, payload) in replies.iter().zip(payloads) {
        let (eth, ip, udp, data) = parse_udp(reply);
        assert_eq!((eth.source, eth.destination), (MAC_B, MAC_A));
        assert_eq!((ip.source, ip.destination), (IP_B, IP_A));
        assert_eq!((udp.source_port, udp.destination_port), (7, 40000));
        assert_eq!(data, payload);
    }
}

#[test]
fn objects_run_like_their_sources() {
    let obj = tmp("rpc.xo");
    let (code, out) = exo(&[&"compile", &example("rpc_reply.exo"), &"-o", &obj]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = exo(&[&"check", &obj]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("object accepted"), "{out}");
    let mut req = Vec::new();
    for v in [77u32, 1, 99] {
        req.extend_from_slice(&v.to_be_bytes());
    }
    let cap = write_pcap(
        "rpc_in.pcap",
        &[
            udp_frame(1, 5000, &req, &[]),
            udp_frame(1, 5000, b"short", &[]),
        ],
    );
    let runs: Vec<String> = [example("rpc_reply.exo"), obj]
        .iter()
        .map(|f| {
            let sent = tmp("rpc_out.pcap");
            let (code, out) = exo(&[&"run", f, &cap, &"--sent", &sent]);
            assert_eq!(code, 0, "{out}");
            let replies = read_pcap(&sent);
            assert_eq!(replies.len(), 1);
            let (_, _, udp, data) = parse_udp(&replies[0]);
            assert_eq!(udp.destination_port, 1);
            assert_eq!(&data[..], &[0, 0, 0, 77, 0, 0, 0, 0, 0, 0, 0, 100]);
            out
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains("handler runs: 2 (consume 1, deliver 1, faults 0)"));
}

#[test]
fn vectoring_fills_application_memory() {
    let msgs: Vec<Vec<u8>> = vec![b"first message".to_vec(), vec![0x5a; 1000]];
    let frames: Vec<Vec<u8>> = msgs.iter().map(|m| udp_frame(9, 6000, m, &[])).collect();
    let cap = write_pcap("vec_in.pcap", &frames);
    let (ring, meta) = (tmp("ring.bin"), tmp("meta.bin"));
    let ring_arg = format!("ring={}", ring.display());
    let meta_arg = format!("meta={}", meta.display());
    let (code, out) = exo(&[
        &"run",
        &example("vector_payload.exo"),
        &cap,
        &"--region-out",
        &ring_arg,
        &"--region-out",
        &meta_arg,
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(line(&out, "wakeups: "), "wakeups: 2");
    assert_eq!(line(&out, "counter stored: "), "counter stored: 2");
    assert_eq!(
        line(&out, "counter bad_checksum: "),
        "counter bad_checksum: 0"
    );
    // Bytes written into the ring: exactly the payloads.
    assert!(
        out.contains("region ring: 1013 bytes written (size 32768)"),
        "{out}"
    );
    let ring = std::fs::read(ring).unwrap();
    let meta = std::fs::read(meta).unwrap();
    assert_eq!(&ring[..13], b"first message");
    assert_eq!(&ring[2048..3048], &[0x5a; 1000][..]);
    let word = |i: usize| u32::from_le_bytes(meta[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!((word(0), word(2), word(3)), (2, 13, 1000));
    // A region that does not exist: the error names the ones that do.
    let bad_arg = format!("rings={}", tmp("rings.bin").display());
    let (code, out) = exo(&[
        &"run",
        &example("vector_payload.exo"),
        &cap,
        &"--region-out",
        &bad_arg,
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("no region `rings`; the handler's regions are ring, meta (or ids 0 to 1)"),
        "{out}"
    );
}

#[test]
fn per_port_counters_and_the_thousand_port_set() {
    let mut frames = Vec::new();
    for port in [53u16, 53, 10007, 10014, 10008, 17000] {
        frames.push(udp_frame(1, port, b"x", &[]));
    }
    let cap = write_pcap("ports_in.pcap", &frames);
    let counts = tmp("udp_ports.bin");
    let arg = format!("udp_ports={}", counts.display());
    let (code, out) = exo(&[
        &"run",
        &example("port_counter.exo"),
        &cap,
        &"--region-out",
        &arg,
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(line(&out, "counter frames: "), "counter frames: 6");
    let c = std::fs::read(counts).unwrap();
    let get = |p: usize| u64::from_le_bytes(c[8 * p..8 * p + 8].try_into().unwrap());
    assert_eq!((get(53), get(10007), get(17000), get(54)), (2, 1, 1, 0));

    let (code, out) = exo(&[&"run", &example("udp_ports_1000.exo"), &cap]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(line(&out, "filter: "), "filter: 3 matched, 3 not matched");
    assert!(!out.contains("handler runs"), "{out}");
}

#[test]
fn check_exit_codes_and_messages() {
    let bad = tmp("bad.exo");
    std::fs::write(&bad, "filter \"udp\"\nhandler {\n    if udp.dport {\n        return consume\n    }\n    return deliver\n}\n").unwrap();
    let (code, out) = exo(&[&"check", &bad]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error at 3:8: expected a condition, found an integer"),
        "{out}"
    );
    assert!(out.contains("  |        ^^^^^^^^^"), "{out}");

    let (code, out) = exo(&[&"check", &tmp("missing.exo")]);
    assert_eq!(code, 2, "{out}");

    // A `.s` handler: rejected with its source line, accepted with a region.
    let asm = tmp("store.s");
    std::fs::write(
        &asm,
        "mov %r1, 0\ncall 3\nstw [%r0+4], 1\nmov %r0, 1\nexit\n",
    )
    .unwrap();
    let (code, out) = exo(&[&"check", &asm]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("line 2"), "{out}");
    let (code, out) = exo(&[&"check", &asm, &"--region", &"8:rw"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = exo(&[&"check", &asm, &"--region", &"4:rw"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("(at line 3, column 1)"), "{out}");

    // A corrupted object is rejected with the decoder's reason.
    let obj = tmp("corrupt.xo");
    let (code, _) = exo(&[&"compile", &example("udp_echo.exo"), &"-o", &obj]);
    assert_eq!(code, 0);
    let mut b = std::fs::read(&obj).unwrap();
    b[4] = 9;
    std::fs::write(&obj, &b).unwrap();
    let (code, out) = exo(&[&"check", &obj]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("object format version 9 is not supported"),
        "{out}"
    );
}
