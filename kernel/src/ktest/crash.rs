//! Deliberate crashes, each run in its own boot (`ktest.crash=<kind>` on the
//! kernel command line), so the host can check that the crash report appears
//! with the right fields. The host knows the expected values: keep
//! `PAGE_FAULT_ADDRESS` in sync with `xtask/src/scenario.rs`.

use crate::{kprintln, log_error};

/// Address the page-fault test writes to: in the user half, never mapped.
pub const PAGE_FAULT_ADDRESS: u64 = 0xdead_b000;

/// The crash kinds.
pub const KINDS: [&str; 5] = [
    "page-fault",
    "stack-overflow",
    "double-fault",
    "panic",
    "triple-fault",
];

/// Triggers the crash `kind`; returns only if `kind` is unknown.
pub fn trigger(kind: &str) {
    kprintln!("KCRASH trigger {kind}");
    match kind {
        "page-fault" => page_fault(),
        "stack-overflow" => {
            let depth = recurse(0);
            log_error!("stack overflow did not fault (depth {depth})");
        }
        "double-fault" => {
            crate::arch::idt::set_page_fault_ist(false);
            let depth = recurse(0);
            log_error!("double fault did not happen (depth {depth})");
        }
        "panic" => panic!("deliberate panic from the crash test"),
        // No report is possible: the host must recognize QEMU's exit status 0.
        "triple-fault" => crate::arch::idt::triple_fault(),
        other => log_error!("unknown crash kind `{other}`; known: {KINDS:?}"),
    }
}

#[inline(never)]
fn page_fault() {
    let ptr = PAGE_FAULT_ADDRESS as *mut u64;
    // SAFETY: deliberately not safe: this write must fault. The address is in
    // the never-mapped user half, so no memory is corrupted; the page-fault
    // handler reports and stops the kernel.
    unsafe { core::ptr::write_volatile(ptr, 0x5a5a) };
}

/// Recurses with a 1 KiB frame until the stack runs into its guard page.
#[inline(never)]
#[allow(
    unconditional_recursion,
    reason = "it must run until the stack overflows"
)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = depth as u8;
    let frame = core::hint::black_box(frame);
    recurse(depth + 1) + u64::from(frame[0])
}
