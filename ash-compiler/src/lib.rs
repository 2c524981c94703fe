//! JIT compiler from verified handler bytecode and merged filter tries to
//! x86-64 machine code.
#![no_std]

extern crate alloc;
