//! exo's downloadable-code languages.
//!
//! * [`bpf`]: the handler bytecode, the BPF instruction set of RFC 9669.
//! * [`filter`]: DPF-style filter atoms and the merged classifier.
//! * [`pcap`]: the pcap-filter (tcpdump) expression language.
//! * [`dsl`]: the handler language (filters plus handlers in one file).
//! * [`object`]: the object format the kernel ABI takes.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod bpf;
pub mod dsl;
pub mod filter;
pub mod object;
pub mod pcap;
