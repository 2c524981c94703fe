//! Frames for handler tests, built and checked with `etherparse` (an
//! independent implementation of the headers and checksums), and a runner
//! for compiled handlers on the reference interpreter.
#![allow(dead_code)]

use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv4Header, Ipv4Options, UdpHeader};
use filter_lang::bpf::ash::RecordingEnv;
use filter_lang::bpf::interp::{Interpreter, RunOptions, packet_memory, run_packet};
use filter_lang::dsl;

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xbb];
pub const IP_A: [u8; 4] = [10, 0, 0, 1];
pub const IP_B: [u8; 4] = [10, 0, 0, 2];

/// An Ethernet/IPv4/UDP frame from A to B with correct checksums;
/// `options` (a multiple of 4 bytes) lengthens the IPv4 header.
pub fn udp_frame(sport: u16, dport: u16, payload: &[u8], options: &[u8]) -> Vec<u8> {
    let udp = UdpHeader::with_ipv4_checksum(
        sport,
        dport,
        &ip_header(8 + payload.len(), options),
        payload,
    )
    .expect("payload fits");
    let ip = ip_header(udp.header_len() + payload.len(), options);
    let mut out = Vec::new();
    Ethernet2Header {
        source: MAC_A,
        destination: MAC_B,
        ether_type: EtherType::IPV4,
    }
    .write(&mut out)
    .unwrap();
    ip.write(&mut out).unwrap();
    udp.write(&mut out).unwrap();
    out.extend_from_slice(payload);
    out
}

fn ip_header(payload_len: usize, options: &[u8]) -> Ipv4Header {
    let mut ip = Ipv4Header::new(payload_len as u16, 64, IpNumber::UDP, IP_A, IP_B).unwrap();
    ip.options = Ipv4Options::try_from(options).expect("options of 4n bytes");
    ip.set_payload_len(payload_len).unwrap();
    ip.identification = 0x1234;
    ip.header_checksum = ip.calc_header_checksum();
    ip
}

/// Parses `frame` as Ethernet/IPv4/UDP with etherparse and asserts that
/// both checksums are correct; returns the headers and the payload.
pub fn parse_udp(frame: &[u8]) -> (Ethernet2Header, Ipv4Header, UdpHeader, Vec<u8>) {
    let p = etherparse::SlicedPacket::from_ethernet(frame).expect("a valid frame");
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = p.link else {
        panic!("not Ethernet II")
    };
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not IPv4")
    };
    let Some(etherparse::TransportSlice::Udp(udp)) = p.transport else {
        panic!("not UDP")
    };
    let iph = ip.header().to_header();
    assert_eq!(
        iph.header_checksum,
        iph.calc_header_checksum(),
        "IPv4 header checksum"
    );
    let uh = udp.to_header();
    let payload = udp.payload().to_vec();
    assert_eq!(
        uh.checksum,
        uh.calc_checksum_ipv4(&iph, &payload).unwrap(),
        "UDP checksum"
    );
    (eth.to_header(), iph, uh, payload)
}

/// What one handler run did.
pub struct Run {
    pub verdict: u64,
    pub executed: u64,
    pub env: RecordingEnv,
}

/// A compiled handler with its regions and counters, kept across runs.
pub struct Harness {
    pub compiled: dsl::Compiled,
    interp: Interpreter,
    pub regions: Vec<Vec<u8>>,
    pub counters: Vec<u64>,
}

impl Harness {
    /// Compiles `src` (panicking with the rendered error if it fails).
    pub fn new(src: &str) -> Harness {
        let compiled = dsl::compile(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
        let h = compiled.handler.as_ref().expect("a handler");
        let interp = Interpreter::new(&h.program.words).unwrap();
        let regions = h
            .spec
            .regions
            .iter()
            .map(|r| vec![0; r.size as usize])
            .collect();
        let counters = vec![0; h.spec.counters as usize];
        Harness {
            compiled,
            interp,
            regions,
            counters,
        }
    }

    /// Whether the file's filters take `frame`.
    pub fn matches(&self, frame: &[u8]) -> bool {
        self.compiled.filters.iter().any(|f| f.matches(frame))
    }

    /// Runs the handler on `frame` (whether or not the filter matches).
    pub fn run(&mut self, frame: &[u8]) -> Run {
        let h = self.compiled.handler.as_ref().unwrap();
        let bound = h.verified.insn_bound;
        let bufs = self
            .regions
            .iter_mut()
            .zip(&h.spec.regions)
            .map(|(b, d)| (b.as_mut_slice(), d.writable))
            .collect();
        let mut setup = packet_memory(frame, 1, bufs);
        let mut env = RecordingEnv::default();
        let out = run_packet(
            &self.interp,
            &mut setup,
            &mut self.counters,
            &mut env,
            RunOptions {
                budget: Some(bound),
                ..RunOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("handler fault: {e}"));
        assert!(out.executed <= bound, "ran past the verifier's bound");
        Run {
            verdict: out.r0,
            executed: out.executed,
            env,
        }
    }
}
