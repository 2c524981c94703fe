//! The symbols the prebuilt `core`/`alloc` of the host triple need in a
//! freestanding kernel, besides the panic handler and the allocator:
//!
//! - `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` come from the
//!   `baremetal-mem` crate (one implementation for the kernel and the ring-3
//!   programs), linked by `extern crate baremetal_mem` in `main.rs`; the
//!   kernel test below checks the linked functions in ring 0;
//! - the two unwinding symbols `core`/`alloc` reference but never call with
//!   `panic = "abort"` are defined here (the ring-3 programs have their own,
//!   which exit instead of halting).

#[cfg(feature = "qemu-tests")]
use baremetal_mem::{memcmp, memcpy, memmove, memset};

/// Referenced by the prebuilt `core`; never called with `panic = "abort"`.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// Referenced by the prebuilt `alloc`; never called with `panic = "abort"`.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    super::cpu::halt_forever()
}

crate::kernel_test! {
    fn memory_intrinsics_handle_overlap_and_ordering() {
        let mut buf = *b"0123456789";
        // SAFETY: all ranges are inside `buf`.
        unsafe { memmove(buf.as_mut_ptr().add(2), buf.as_ptr(), 6) };
        ensure_eq!(&buf, b"0101234589");
        let mut buf = *b"0123456789";
        // SAFETY: all ranges are inside `buf`.
        unsafe { memmove(buf.as_mut_ptr(), buf.as_ptr().add(3), 7) };
        ensure_eq!(&buf, b"3456789789");
        let mut buf = [0u8; 9];
        // SAFETY: the range is `buf`.
        unsafe { memset(buf.as_mut_ptr().add(1), 0xAB, 7) };
        ensure_eq!(buf, [0, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0]);
        // Quadword bulk plus a tail, at odd alignment.
        let mut big = [0u8; 40];
        // SAFETY: 21 bytes from offset 3 stay inside `big`.
        unsafe { memset(big.as_mut_ptr().add(3), 0x5C, 21) };
        ensure!(big[3..24].iter().all(|&b| b == 0x5C) && big[..3].iter().chain(&big[24..]).all(|&b| b == 0), "memset wrote outside its range");
        let src: [u8; 40] = core::array::from_fn(|i| i as u8);
        let mut dst = [0xFFu8; 40];
        // SAFETY: 27 bytes from offset 5 (source) and 1 (destination) stay inside.
        unsafe { memcpy(dst.as_mut_ptr().add(1), src.as_ptr().add(5), 27) };
        ensure!(dst[1..28] == src[5..32] && dst[0] == 0xFF && dst[28..].iter().all(|&b| b == 0xFF), "memcpy copied wrongly");
        let (a, b) = (*b"abcd", *b"abce");
        // SAFETY: both arrays have 4 bytes.
        let (lt, eq, gt) = unsafe { (memcmp(a.as_ptr(), b.as_ptr(), 4), memcmp(a.as_ptr(), a.as_ptr(), 4), memcmp(b.as_ptr(), a.as_ptr(), 4)) };
        ensure!(lt < 0 && eq == 0 && gt > 0, "memcmp ordering wrong: {lt} {eq} {gt}");
        // SAFETY: zero-length compare reads nothing.
        ensure_eq!(unsafe { memcmp(a.as_ptr(), b.as_ptr(), 0) }, 0);
        Ok(())
    }
}
