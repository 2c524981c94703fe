//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` for ring-3 programs:
//! the prebuilt `compiler_builtins` of the host triple does not export
//! them. String instructions keep the compiler from turning the bodies into
//! calls to themselves. DF is clear on entry (SysV ABI; the kernel clears it
//! for upcall handlers and the upcall trampoline restores the interrupted
//! flags).

use core::arch::asm;

/// # Safety
/// `dest` and `src` valid for `n` bytes, not overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: validity is the caller's guarantee; DF is clear. Quadwords
    // first, then the tail bytes.
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

/// # Safety
/// `dest` and `src` valid for `n` bytes (they may overlap).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if n == 0 || (dest as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: a forward copy is correct when dest does not start inside
        // [src, src + n); validity is the caller's guarantee.
        return unsafe { memcpy(dest, src, n) };
    }
    // SAFETY: backward copy from the last byte with DF set, cleared again
    // right after; validity is the caller's guarantee.
    unsafe {
        asm!("std", "rep movsb", "cld",
             inout("rcx") n => _, inout("rdi") dest.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
             options(nostack));
    }
    dest
}

/// # Safety
/// `dest` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    let pattern = u64::from(c as u8) * 0x0101_0101_0101_0101;
    // SAFETY: validity is the caller's guarantee; DF is clear. Quadwords
    // first, then the tail bytes.
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

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n == 0 {
        return 0;
    }
    let left: usize;
    let pa: *const u8;
    let pb: *const u8;
    // SAFETY: compares at most n bytes of the two valid ranges; DF is clear.
    unsafe {
        asm!("repe cmpsb", inout("rcx") n => left, inout("rsi") a => pa, inout("rdi") b => pb,
             options(nostack, readonly));
    }
    // After the loop both pointers are one past the last compared byte.
    // SAFETY: the last compared byte lies inside both ranges.
    let (x, y) = unsafe { (*pa.sub(1), *pb.sub(1)) };
    if left == 0 && x == y {
        0
    } else {
        i32::from(x) - i32::from(y)
    }
}

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded.
    unsafe { memcmp(a, b, n) }
}
