//! Runtime support shared by exo's ring-3 programs (`src/bin/*`): the panic
//! handler and the symbols the prebuilt `core` needs in a freestanding
//! binary. The programs themselves run in ring 3 once issue 3 adds
//! environments; until then the kernel embeds and validates them.
#![no_std]

/// Stops the program. Until the exit system call exists (issue 3) this is a
/// `pause` loop; the kernel will preempt or destroy the environment.
pub fn stop() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    stop()
}

/// Referenced by the prebuilt `core`; never called with `panic = "abort"`.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// Referenced by the prebuilt `alloc`; never called with `panic = "abort"`.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    stop()
}
