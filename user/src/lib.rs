//! Runtime support shared by exo's ring-3 programs (`src/bin/*`): the
//! start-up path (library OS initialization, then the program's `main`,
//! then `Exit` with its result), the panic handler, and the symbols the
//! prebuilt `core` needs in a freestanding binary (`memcpy` and friends
//! come from `baremetal-mem`, shared with the kernel).
#![no_std]

// Links `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` into every
// program (called by the compiler and the prebuilt `core`, never by name).
extern crate baremetal_mem;

use exo_abi::EnvId;
pub use libos_core;
pub use libos_core::{print, println};

/// What a program gets at start: its id, its parent, the spawn argument.
#[derive(Clone, Copy, Debug)]
pub struct Start {
    pub id: EnvId,
    pub parent: EnvId,
    pub arg: u64,
}

/// Exit code when the library OS cannot start.
pub const RUNTIME_FAILED: u64 = 0xDEAD;
/// Exit code after a panic.
pub const PANICKED: u64 = 101;

/// Starts the library OS and runs `main`; its result is the exit code.
/// Called from each program's `_start(id, parent, arg)`.
pub fn start(id: u64, parent: u64, arg: u64, main: fn(Start) -> u64) -> ! {
    if let Err(e) = libos_core::rt::init() {
        println!("runtime start-up failed: {e}");
        libos_core::api::exit(RUNTIME_FAILED);
    }
    let code = main(Start {
        id: EnvId(id as u32),
        parent: EnvId(parent as u32),
        arg,
    });
    libos_core::api::exit(code)
}

/// Declares the program's `_start` entry (the ELF entry, see `user.ld`)
/// calling `main: fn(Start) -> u64`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// Entry point: the kernel passes id, parent and argument in
        /// `rdi`, `rsi`, `rdx` with a call-aligned stack.
        #[unsafe(no_mangle)]
        pub extern "C" fn _start(id: u64, parent: u64, arg: u64) -> ! {
            $crate::start(id, parent, arg, $main)
        }
    };
}

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("panic: {info}");
    libos_core::api::exit(PANICKED)
}

/// Referenced by the prebuilt `core`; never called with `panic = "abort"`.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// Referenced by the prebuilt `alloc`; never called with `panic = "abort"`.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    libos_core::api::exit(PANICKED)
}
