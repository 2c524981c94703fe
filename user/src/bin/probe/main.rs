//! `probe`: the environment the kernel's in-QEMU tests spawn to exercise
//! the exokernel from ring 3, hostile behavior included. The spawn
//! argument selects a mode (`exo_abi::probe::Mode`); the exit code says
//! which check failed, if any (details go to the console).
#![no_std]
#![no_main]

mod check;
mod cpu;
mod faults;
mod garbage;
mod memory;
mod pct;

use exo_abi::probe::{FAILED_BASE, Mode, PASSED, decode};
use exo_user::{Start, println};

exo_user::entry!(main);

fn main(start: Start) -> u64 {
    let (mode, param) = decode(start.arg);
    let result = match mode {
        Some(Mode::Basic) => memory::basic(start),
        Some(Mode::ForeignFrame) => memory::foreign_frame(param),
        Some(Mode::KernelMemory) => memory::kernel_memory(),
        Some(Mode::GrantUnheld) => memory::grant_unheld(start, param),
        Some(Mode::Faults) => faults::run(),
        Some(Mode::Unhandled) => faults::unhandled(),
        Some(Mode::Spin) => cpu::spin(),
        Some(Mode::SpinInSliceEnd) => cpu::spin_in_slice_end(param),
        Some(Mode::IgnoreRevocation) => memory::ignore_revocation(param),
        Some(Mode::Compliant) => memory::compliant(param),
        Some(Mode::Garbage) => garbage::run(start, param),
        Some(Mode::PctServer) => pct::serve(),
        Some(Mode::PctClient) => pct::client(start, param),
        Some(Mode::Hoard) => memory::hoard(param),
        Some(Mode::Blocker) => cpu::blocker(),
        Some(Mode::Donor) => cpu::donor(param),
        None => {
            println!("probe: unknown mode in argument {:#x}", start.arg);
            Err(0)
        }
    };
    match result {
        Ok(()) => PASSED,
        Err(check) => FAILED_BASE + check,
    }
}
