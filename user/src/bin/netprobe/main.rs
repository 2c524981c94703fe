//! `netprobe`: the environment the kernel's in-QEMU network tests spawn
//! (`kernel/src/netenv/`, protocol in `exo_abi::netprobe`). It binds
//! frames through the network system calls with `libos-net`: handlers
//! whose regions live in its own pages, receive rings it reads, overlaps
//! it must be granted, transmits the kernel must refuse, and hostile
//! arguments. The exit code says which check failed, if any.
#![no_std]
#![no_main]

#[path = "../probe/check.rs"]
mod check;
mod echo;
mod hostile;
mod objects;
mod pages;
mod rings;
mod spoof;

use exo_abi::netprobe::{FAILED_BASE, Mode, PASSED, decode};
use exo_user::{Start, println};

exo_user::entry!(main);

fn main(start: Start) -> u64 {
    let (mode, param) = decode(start.arg);
    let result = match mode {
        Some(Mode::EchoBpf) => echo::bpf(param),
        Some(Mode::EchoWasm) => echo::wasm(param),
        Some(Mode::FuelSpin) => echo::fuel_spin(param),
        Some(Mode::RingEcho) => rings::ring_echo(param),
        Some(Mode::Overlapper) => rings::overlapper(start, param),
        Some(Mode::Bystander) => rings::bystander(),
        Some(Mode::Spoof) => spoof::run(),
        Some(Mode::Hostile) => hostile::run(start),
        None => {
            println!("netprobe: unknown mode in argument {:#x}", start.arg);
            Err(0)
        }
    };
    match result {
        Ok(()) => PASSED,
        Err(check) => FAILED_BASE + check,
    }
}
