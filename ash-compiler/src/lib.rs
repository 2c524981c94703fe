//! JIT compiler from verified handler bytecode and merged filter tries to
//! x86-64 machine code.
//!
//! * [`x86`]: the instruction encoder.
//! * [`handler`]: the handler JIT ([`handler::compile`]).
//! * [`trie`]: the filter-trie compiler ([`trie::compile_trie`]).
//! * [`reloc`]: relocations the caller applies after placing code.
//! * [`runtime`]: the environment, helper trampoline and entry call (the only
//!   `unsafe` code apart from the host-only module).
//! * `host` (feature `host`): executable memory on a Linux host
//!   (`mmap`/`mprotect`, W^X) and guard-page buffers, for tests, tools and
//!   benchmarks; `difftest`, the JIT-versus-interpreter differential
//!   harness shared by the property tests and the fuzz target.
//!
//! The crate is `no_std` + `alloc` and never allocates executable memory:
//! callers place [`handler::Compiled::code`] themselves. See `docs/JIT.md`.
#![no_std]

extern crate alloc;
#[cfg(feature = "host")]
extern crate std;

#[cfg(feature = "host")]
pub mod difftest;
pub mod handler;
#[cfg(feature = "host")]
pub mod host;
pub mod reloc;
pub mod runtime;
pub mod trie;
pub mod x86;

pub use handler::{CompileError, CompileOptions, Compiled, compile, compile_verified};
