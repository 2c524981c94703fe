//! The table of registered tests, bracketed by link-script symbols.

use super::KernelTest;

unsafe extern "C" {
    static __ktests_start: u8;
    static __ktests_end: u8;
}

/// All tests linked into this kernel (empty without `qemu-tests`).
pub fn tests() -> &'static [KernelTest] {
    let start = (&raw const __ktests_start).cast::<KernelTest>();
    let end = (&raw const __ktests_end).cast::<KernelTest>();
    let bytes = end as usize - start as usize;
    let count = bytes / core::mem::size_of::<KernelTest>();
    assert_eq!(
        bytes % core::mem::size_of::<KernelTest>(),
        0,
        "ktests section holds foreign data"
    );
    assert_eq!(
        start as usize % core::mem::align_of::<KernelTest>(),
        0,
        "ktests section misaligned"
    );
    // SAFETY: the link script places exactly the `KernelTest` statics emitted
    // by `kernel_test!` between the two symbols (KEEP, 8-byte aligned, no
    // padding since the size is a multiple of the alignment), in read-only
    // memory that lives forever.
    unsafe { core::slice::from_raw_parts(start, count) }
}
