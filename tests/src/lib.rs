//! Shared support for exo's cross-crate integration tests (`tests/*.rs`).
//!
//! Each crate tests itself; these tests run the pipeline across crates the
//! way the kernel runs it, so that a change in one crate that breaks its
//! contract with another fails here. The support is a host-side model of
//! the kernel's side of that pipeline, written against the crates' public
//! APIs only:
//!
//! * [`corpus`]: the example sources (`examples/*.exo`) and the committed
//!   captures (`filter-lang/tests/captures/*.pcap`).
//! * [`download`]: an object's way into the kernel: strict decode,
//!   verification with the kernel's default limits, as in
//!   `kernel/src/net/binding.rs` and `kernel/src/net/handler.rs`.
//! * [`engine`]: a verified handler run on frames by the reference
//!   interpreter and by JIT code placed in executable memory, with the one
//!   `AshHelpers`, persistent regions and counters, and a comparison of
//!   everything each run did.
//! * [`demux`]: the kernel's demultiplexer (`kernel/src/net/demux.rs`) on
//!   the host: bindings' filters merged into one classifier, compiled by
//!   the trie compiler, leaf tables updated in place when they can be.
//! * [`frames`]: well-formed Ethernet/IPv4/UDP/TCP/ARP frames and hostile
//!   variants of them (truncated, lying lengths, flipped bits, oversized).
//! * [`sections`]: an object's sections as bytes, to corrupt them one rule
//!   at a time.
//!
//! `unsafe` appears only where compiled code is entered (`engine` and
//! `demux`), each block with a `// SAFETY:` comment: the code comes from a
//! program the verifier accepted (or from the trie compiler), and every
//! buffer it may touch is alive and described to it exactly.

pub mod corpus;
pub mod demux;
pub mod download;
pub mod engine;
pub mod frames;
pub mod sections;
