//! ExOS-style library operating system on top of the exo kernel.
//!
//! The kernel only multiplexes frames, time slices and upcalls; everything
//! an application sees as an operating system lives here, in its own
//! address space:
//!
//! - [`sys`]: the `syscall` instruction (the only place with inline
//!   assembly for system calls) and [`api`]: safe wrappers over every call;
//! - [`export`]: read-only views of the kernel's exported bookkeeping
//!   (clock, frame table, environment table, slice vector, repossession
//!   vector);
//! - [`frames`]: a physical-frame allocator front end (a cache of owned
//!   frames); [`vm`]: the environment's virtual memory, built with the map
//!   calls; [`revoke`]: which pages to give back when the kernel asks;
//! - [`upcall`]: the upcall entry and the user-mode resume trampoline;
//!   [`exception`], [`slice`] (the end-of-slice handler), [`pct`] and
//!   [`lrpc`] (protected control transfer and RPC over it);
//! - [`console`]: `print!`/`println!` through the debug console;
//! - [`rt`]: runtime start-up (upcall stack, registration).
//!
//! `unsafe` lives only in `sys` (the instruction), `api` (forwarding the
//! contracts of the calls that change the caller's memory), `export`
//! (reading the exported pages), `upcall` (the trampoline and handler
//! pointers), `vm::KernelMmu` (the real map calls and page copies) and one
//! block of `rt` (declaring the upcall entry), each with a `// SAFETY:`
//! comment; the logic modules are safe and tested on the host.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod api;
pub mod console;
pub mod exception;
pub mod export;
pub mod frames;
pub mod lrpc;
pub mod pct;
pub mod revoke;
pub mod rng;
pub mod rt;
pub mod slice;
pub mod sys;
pub mod upcall;
pub mod vm;

pub use exo_abi::{EnvId, Error};
