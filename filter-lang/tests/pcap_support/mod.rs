//! Shared by the pcap tests: the deterministic capture generator and a
//! reader. The committed `tests/captures/*.pcap` files are what this
//! generator writes (`pcap_captures.rs` checks they are up to date;
//! `REGENERATE_CAPTURES=1 cargo test -p filter-lang --test pcap_captures`
//! rewrites them).

#![allow(dead_code)]

pub mod frames;

use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use std::path::PathBuf;
use std::time::Duration;

/// One captured packet: the captured bytes and the length on the wire.
pub struct Packet {
    pub data: Vec<u8>,
    pub wirelen: u32,
}

pub fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/captures")
}

/// Names of the committed captures.
pub const CAPTURES: &[&str] = &["mixed.pcap", "truncated.pcap", "random.pcap"];

/// Generates the packets of one capture.
pub fn generate(name: &str) -> Vec<Packet> {
    match name {
        "mixed.pcap" => frames::mixed(),
        "truncated.pcap" => frames::truncated(),
        "random.pcap" => frames::random(),
        _ => panic!("unknown capture {name}"),
    }
}

/// Serializes packets as a pcap file (Ethernet, microsecond timestamps).
pub fn to_pcap(packets: &[Packet]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = PcapWriter::new(&mut out).expect("pcap header");
        for (i, p) in packets.iter().enumerate() {
            let ts = Duration::from_micros(1_700_000_000_000_000 + i as u64 * 1000);
            w.write_packet(&PcapPacket::new(ts, p.wirelen, &p.data))
                .expect("write packet");
        }
    }
    out
}

/// Reads a pcap file.
pub fn read(path: &std::path::Path) -> Vec<Packet> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = PcapReader::new(f).expect("pcap header");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.expect("pcap record");
        out.push(Packet {
            data: p.data.into_owned(),
            wirelen: p.orig_len,
        });
    }
    out
}
