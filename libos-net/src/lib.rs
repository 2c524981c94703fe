//! Networking for exo library OSes: the library side of the kernel's
//! secure packet bindings (`exo_abi::net`, `docs/NET.md`).
//!
//! - [`api`]: safe wrappers over the network system calls (bind, unbind,
//!   grant, transmit, read a binding's filters), with the kernel's
//!   explanation of a refused bind;
//! - [`ring`]: reading a receive ring (host-tested logic over any
//!   [`ring::RingMemory`], plus the mapped ring of a running program);
//! - [`export`]: the exported interface counters and binding table;
//! - [`frame`]: building and checking Ethernet/IPv4/UDP frames (what a
//!   user-space echo needs);
//! - [`object`]: objects completed at run time (a compiled handler with a
//!   filter the library OS knows only when it runs), without allocation;
//! - [`arp`]: the ARP responder ASH a library OS binds for its address.
//!
//! `unsafe` lives in `api` (the raw system calls), `ring::MappedRing`
//! (volatile access to the ring pages) and `export` (volatile reads of the
//! exported pages), each block with a `// SAFETY:` comment. A TCP/IP stack
//! on smoltcp comes later.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod api;
pub mod arp;
pub mod export;
pub mod frame;
pub mod object;
pub mod ring;
