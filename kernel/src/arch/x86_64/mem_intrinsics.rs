//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` for the kernel (the
//! host triple's prebuilt `compiler_builtins` does not export them), plus the
//! two unwinding symbols the prebuilt `core`/`alloc` reference but never call
//! with `panic = "abort"`.
//!
//! Written with `rep movsb`/`rep stosb`/`repe cmpsb` so the compiler cannot
//! turn their bodies back into calls to themselves.

use core::arch::asm;

/// Copies `n` bytes; the regions must not overlap. Whole quadwords first
/// (`rep movsq`), then the tail bytes: an eighth of the string iterations
/// of a byte copy (each iteration counts as an instruction under QEMU's
/// `-icount`, and older CPUs copy bytes slowly).
///
/// # Safety
/// `dest` and `src` must be valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid; the two string
    // instructions copy n / 8 quadwords then n % 8 bytes, forward (DF is
    // clear: SysV ABI, and the trap stubs execute `cld`).
    unsafe {
        asm!(
            "rep movsq",
            "mov {tail}, %rcx",
            "rep movsb",
            tail = in(reg) n & 7,
            inout("rcx") n >> 3 => _,
            inout("rdi") dest => _,
            inout("rsi") src => _,
            options(att_syntax, nostack, preserves_flags),
        );
    }
    dest
}

/// Copies `n` bytes between possibly overlapping regions.
///
/// # Safety
/// `dest` and `src` must be valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // Forward copy is safe: dest is below src or past the end of src.
        // SAFETY: the caller guarantees validity of both ranges.
        return unsafe { memcpy(dest, src, n) };
    }
    if n == 0 {
        return dest;
    }
    // SAFETY: backward copy from the last byte with DF set; DF is cleared
    // again before returning. Validity is the caller's guarantee.
    unsafe {
        asm!("std", "rep movsb", "cld",
             inout("rcx") n => _, inout("rdi") dest.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
             options(nostack));
    }
    dest
}

/// Fills `n` bytes with `c` (quadwords first, then the tail bytes).
///
/// # Safety
/// `dest` must be valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    let pattern = u64::from(c as u8) * 0x0101_0101_0101_0101;
    // SAFETY: the caller guarantees the range is valid; n / 8 quadwords
    // then n % 8 bytes are stored forward (DF is clear).
    unsafe {
        asm!(
            "rep stosq",
            "mov {tail}, %rcx",
            "rep stosb",
            tail = in(reg) n & 7,
            inout("rcx") n >> 3 => _,
            inout("rdi") dest => _,
            in("rax") pattern,
            options(att_syntax, nostack, preserves_flags),
        );
    }
    dest
}

/// Compares `n` bytes; returns <0, 0 or >0 like C's `memcmp`.
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n == 0 {
        return 0;
    }
    let left: *const u8;
    let right: *const u8;
    // SAFETY: `repe cmpsb` reads at most `n` bytes of each range, which the
    // caller guarantees are valid; it stops one past the first difference.
    unsafe {
        asm!("repe cmpsb", inout("rcx") n => _, inout("rsi") a => left, inout("rdi") b => right,
             options(nostack, readonly));
    }
    // SAFETY: both pointers advanced at least one byte, so the byte before
    // each is within the compared ranges.
    let (x, y) = unsafe { (*left.sub(1), *right.sub(1)) };
    i32::from(x) - i32::from(y)
}

/// Like `memcmp` but only equality is meaningful.
///
/// # Safety
/// `a` and `b` must be valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as `memcmp`.
    unsafe { memcmp(a, b, n) }
}

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
