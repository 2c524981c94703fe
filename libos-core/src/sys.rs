//! The `syscall` instruction. Register convention: `exo_abi::syscall`
//! (number in `rax`, arguments in `rdi, rsi, rdx, r10, r8, r9`, status in
//! `rax`, value in `rdx`; `rcx` and `r11` clobbered; everything else kept).
//!
//! The kernel checks every argument and touches user memory only as the
//! program itself could. Still, some calls change the program's own memory
//! under it (`Map`, `Unmap`, `FrameFree`, `DumpArea`) or where control goes
//! (`UpcallRegister`), so a raw call by number is `unsafe`; `api` wraps
//! each call, safely where the call cannot do that.

use core::arch::asm;

use exo_abi::Sysno;

/// Raw results: (`rax` status, `rdx` value).
pub type Raw = (u64, u64);

/// A call with up to six arguments.
///
/// # Safety
/// If the call maps, unmaps or frees memory, declares a dump area or an
/// upcall entry, no live Rust reference may point into the pages it
/// affects, and an upcall entry must be a valid upcall trampoline.
#[inline(always)]
pub unsafe fn call(nr: Sysno, a: [u64; 6]) -> Raw {
    // SAFETY: forwarded to the caller.
    unsafe { raw(nr.nr(), a) }
}

/// A call by number (tests also send unknown numbers).
///
/// # Safety
/// As for [`call`].
#[inline(always)]
pub unsafe fn raw(nr: u64, a: [u64; 6]) -> Raw {
    let status: u64;
    let value: u64;
    // SAFETY: `syscall` enters the kernel, which clobbers only rcx and r11
    // (declared) and returns rax/rdx; it accesses user memory only as the
    // program itself could (through its page tables, with its rights), so
    // the compiler's view of memory stays valid as long as no memory is
    // assumed unchanged (no `nomem`/`readonly`).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => status,
            in("rdi") a[0],
            in("rsi") a[1],
            inlateout("rdx") a[2] => value,
            in("r10") a[3],
            in("r8") a[4],
            in("r9") a[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (status, value)
}

/// Results of a call that returns a message (`PctCall`): status, then
/// `rdi, rsi, rdx, r10, r8, r9`. Only for the protected control transfers,
/// which touch no memory of the caller.
#[inline(always)]
pub fn call_message(nr: Sysno, a: [u64; 6]) -> (u64, [u64; 6]) {
    let status: u64;
    let mut out = a;
    // SAFETY: as in `raw`; the kernel also writes rdi, rsi, rdx, r10, r8
    // and r9 (the reply), all declared as outputs.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr.nr() => status,
            inlateout("rdi") out[0],
            inlateout("rsi") out[1],
            inlateout("rdx") out[2],
            inlateout("r10") out[3],
            inlateout("r8") out[4],
            inlateout("r9") out[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (status, out)
}

/// `Exit`: never returns.
pub fn exit(code: u64) -> ! {
    // SAFETY: the kernel ends the environment; nothing after the
    // instruction runs.
    unsafe {
        asm!(
            "syscall",
            in("rax") Sysno::Exit.nr(),
            in("rdi") code,
            options(noreturn, nostack),
        );
    }
}

/// Reads the time-stamp counter (allowed in ring 3).
#[inline(always)]
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: rdtsc only reads the counter.
    unsafe {
        asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}
