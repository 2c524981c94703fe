//! exo's downloadable-code languages.
//!
//! * [`bpf`]: the handler bytecode, the BPF instruction set of RFC 9669.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod bpf;
