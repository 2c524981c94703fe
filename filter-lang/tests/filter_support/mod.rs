//! Filters shared by the classifier tests, the trie compiler's tests
//! (`ash-compiler/tests/trie.rs`) and the demultiplexing benchmark
//! (`bench/src/bin/bench-demux.rs`).
#![allow(dead_code)]

use filter_lang::filter::{Atom, FieldWidth, Filter};

/// "IPv4, UDP, destination port `port`" in four atoms (EtherType, protocol,
/// the IHL shift to the UDP header, the port): the shape of a UDP
/// "connection" filter, as the DSL and pcap compile it.
pub fn udp_dport(port: u16) -> Filter {
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
            value: u32::from(port),
        },
    ])
    .expect("well-formed filter")
}
