//! `netprobe`: the environment the kernel's in-QEMU network tests spawn
//! (`kernel/src/netenv/`, protocol in `exo_abi::netprobe`). It binds
//! frames through the network system calls with `libos-net`: handlers
//! whose regions live in its own pages, receive rings it reads, overlaps
//! it must be granted, transmits the kernel must refuse, and hostile
//! arguments. The exit code says which check failed, if any.
#![no_std]
#![no_main]

mod arp;
#[path = "../probe/check.rs"]
mod check;
mod echo;
mod hostile;
mod objects;
mod pages;
mod program;
mod rings;
mod spoof;
mod vector;

use exo_abi::UpcallKinds;
use exo_abi::netprobe::{FAILED_BASE, Mode, PASSED, decode};
use exo_user::libos_core::{api, rt, upcall};
use exo_user::{Start, println};

exo_user::entry!(main);

/// Declines end-of-slice upcalls: this program keeps no state it would
/// have to save at the end of a slice, so the kernel may simply preempt it
/// (an environment without an end-of-slice handler). Under plain TCG the
/// first run of a handler's code is translated on the spot and can miss
/// the 50 µs budget, which would count as strikes against it. Called
/// again after anything that re-declares the upcalls (`lrpc::export`).
pub fn decline_slice_end() -> Result<(), exo_abi::Error> {
    let (lo, hi) = rt::upcall_stack();
    let mut kinds = UpcallKinds::EXCEPTION | UpcallKinds::REVOCATION | UpcallKinds::REPOSSESSION;
    if upcall::accepts_pct() {
        kinds |= UpcallKinds::PCT;
    }
    // SAFETY: the entry is libos-core's trampoline and the stack the
    // runtime's own upcall stack, exactly as `rt::refresh_upcalls` declares
    // them; only the kinds differ.
    unsafe { api::upcall_register(upcall::entry_point(), lo, hi, kinds) }
}

fn main(start: Start) -> u64 {
    if let Err(e) = decline_slice_end() {
        println!("netprobe: cannot declare its upcalls: {e}");
        return FAILED_BASE;
    }
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
        Some(Mode::Vector) => vector::run(param),
        Some(Mode::ProgramRing) => program::run(param),
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
