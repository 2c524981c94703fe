//! Ending a run: exit codes reported to QEMU's isa-debug-exit device.
//!
//! QEMU exits with status `(code << 1) | 1`; the host (`cargo xtask`) maps
//! these back. A triple fault under `-no-reboot` exits with status 0, which
//! the host always treats as failure.

/// Exit codes (keep in sync with `xtask/src/qemu.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything requested ran and passed (QEMU status 33).
    Success = 0x10,
    /// At least one kernel test failed (status 35).
    TestsFailed = 0x11,
    /// An unexpected exception; a crash report was printed (status 37).
    Crash = 0x12,
    /// A kernel panic; a panic report was printed (status 39).
    Panic = 0x13,
    /// Boot could not complete (status 41).
    BootError = 0x14,
}

/// Exits QEMU with `code`; halts forever where there is no debug-exit device.
pub fn exit(code: ExitCode) -> ! {
    crate::arch::cpu::qemu_exit(code as u32);
    crate::arch::cpu::halt_forever()
}
