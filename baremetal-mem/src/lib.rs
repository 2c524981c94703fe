//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` for exo's bare-metal
//! binaries: the kernel and the ring-3 programs (`exo-user`). Both are
//! `no_std` binaries for the host triple, whose prebuilt `compiler_builtins`
//! does not export these symbols (see
//! `../shared/notes/bare-metal-on-stable-rust.md`), and both need the same
//! five functions; this crate is the one implementation.
//!
//! With the `c-symbols` feature (enabled by `kernel` and `exo-user` only)
//! the functions are `#[unsafe(no_mangle)]`, so the linker resolves the
//! compiler's calls to them; a binary links them by naming the crate
//! (`extern crate baremetal_mem;`). Without the feature, and always in
//! this crate's own test build, they are ordinary Rust functions, which is
//! how the host tests call them: a host binary must never get these
//! symbols, they would replace libc's.
//!
//! Written with string instructions (`rep movsq/movsb`, `rep stosq/stosb`,
//! `repe cmpsb`) so the compiler cannot turn their bodies back into calls
//! to themselves. They rely on the direction flag being clear on entry
//! (SysV ABI): the kernel's trap stubs execute `cld`, the kernel clears DF
//! for upcall handlers, and the upcall trampoline restores the interrupted
//! flags. Each call counts as few instructions as possible (whole
//! quadwords, then the tail bytes), since every string iteration counts as
//! an instruction under QEMU's `-icount`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

use core::arch::asm;

/// Copies `n` bytes from `src` to `dest`; the regions must not overlap.
/// Whole quadwords first (`rep movsq`), then the tail bytes (`rep movsb`).
/// Returns `dest`.
///
/// # Safety
/// `src` must be valid for reads and `dest` for writes of `n` bytes, and
/// the two ranges must not overlap (use [`memmove`] when they may). The
/// direction flag must be clear.
#[cfg_attr(all(feature = "c-symbols", not(test)), unsafe(no_mangle))]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid and disjoint; the
    // two string instructions copy n / 8 quadwords then n % 8 bytes,
    // forward (DF is clear, the caller's guarantee).
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

/// Copies `n` bytes from `src` to `dest`; the regions may overlap. Returns
/// `dest`.
///
/// # Safety
/// `src` must be valid for reads and `dest` for writes of `n` bytes. The
/// direction flag must be clear.
#[cfg_attr(all(feature = "c-symbols", not(test)), unsafe(no_mangle))]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if n == 0 || (dest as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: a forward copy is correct when `dest` does not start
        // inside `[src, src + n)` (it is below `src` or past its end), so no
        // byte is overwritten before it is read; validity and DF are the
        // caller's guarantee.
        return unsafe { memcpy(dest, src, n) };
    }
    // SAFETY: `dest` starts inside `[src, src + n)`: copy backward from the
    // last byte with DF set, and clear DF again before returning. n >= 1,
    // so `n - 1` is the offset of the last byte of both valid ranges.
    unsafe {
        asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dest.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack),
        );
    }
    dest
}

/// Fills `n` bytes at `dest` with the byte `c as u8` (C semantics: only
/// the low byte of `c` counts). Quadwords first, then the tail bytes.
/// Returns `dest`.
///
/// # Safety
/// `dest` must be valid for writes of `n` bytes. The direction flag must
/// be clear.
#[cfg_attr(all(feature = "c-symbols", not(test)), unsafe(no_mangle))]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    let pattern = u64::from(c as u8) * 0x0101_0101_0101_0101;
    // SAFETY: the caller guarantees the range is valid; n / 8 quadwords
    // then n % 8 bytes are stored forward (DF is clear, the caller's
    // guarantee).
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

/// Compares `n` bytes as unsigned bytes; returns a negative value, 0 or a
/// positive value when `a` sorts before, equal to or after `b`, like C's
/// `memcmp`.
///
/// # Safety
/// `a` and `b` must be valid for reads of `n` bytes. The direction flag
/// must be clear.
#[cfg_attr(all(feature = "c-symbols", not(test)), unsafe(no_mangle))]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n == 0 {
        return 0;
    }
    let left: *const u8;
    let right: *const u8;
    // SAFETY: `repe cmpsb` reads at most `n` bytes of each range, which the
    // caller guarantees are valid (and DF clear); it stops one past the
    // first difference, or one past the end when all bytes are equal.
    unsafe {
        asm!(
            "repe cmpsb",
            inout("rcx") n => _,
            inout("rsi") a => left,
            inout("rdi") b => right,
            options(nostack, readonly),
        );
    }
    // SAFETY: n >= 1, so both pointers advanced at least one byte: the byte
    // before each is the last one compared, inside its range. It is the
    // first difference, or equal bytes (result 0) when there was none.
    let (x, y) = unsafe { (*left.sub(1), *right.sub(1)) };
    i32::from(x) - i32::from(y)
}

/// Like [`memcmp`], but only zero (equal) or non-zero is meaningful; the
/// compiler calls it for equality tests.
///
/// # Safety
/// Same contract as [`memcmp`]: `a` and `b` valid for reads of `n` bytes,
/// the direction flag clear.
#[cfg_attr(all(feature = "c-symbols", not(test)), unsafe(no_mangle))]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the same contract as `memcmp`, passed on unchanged.
    unsafe { memcmp(a, b, n) }
}

#[cfg(test)]
mod tests;
