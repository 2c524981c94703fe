//! `init`: the first ring-3 program. For now it is the payload that proves
//! the build-and-embed pipeline (built by xtask, embedded in the kernel,
//! validated at boot); issue 3 gives it system calls and runs it.
#![no_std]
#![no_main]

use exo_user as _;

/// Entry point (the ELF entry, see `user.ld`).
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    exo_user::stop()
}
