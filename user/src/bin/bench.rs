//! `bench`: measures the kernel's basic paths from ring 3 (run by `cargo
//! xtask bench kernel` as `exo.init=bench`). Each measurement takes
//! `SAMPLES` TSC deltas and prints `BENCH <name> min=<c> median=<c>` in TSC
//! cycles (under `-icount shift=0` one cycle is one guest instruction):
//!
//! - `empty`: the bookkeeping around a sample (two `rdtsc` and shifts);
//! - `null_syscall`: `syscall` with the null call and back (short path);
//! - `yield_self`: `Yield` to the caller itself, which takes the full path
//!   (context saved, kernel loop, `iretq`) and changes nothing: the cost of
//!   the path every switching call pays;
//! - `exception_kernel`: from just before `ud2` to the first instruction of
//!   a minimal handler (the kernel-side exception path);
//! - `exception_round_trip`: `ud2`, that handler, and the user-mode resume
//!   back to the next instruction;
//! - `exception_libos`: the same through libos-core's handler (register
//!   saves, FPU save, dispatch in Rust, resume);
//! - `map_unmap`: one `Map` and one `Unmap` through the wrappers;
//! - `pct_round_trip`: `PctCall` to a server whose handler replies at once,
//!   back to the caller; `pct_call_path` and `pct_reply_path` split it at
//!   the server's handler (caller's `syscall` to the server's Rust handler,
//!   and its reply call back to the caller).
#![no_std]
#![no_main]

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

use exo_abi::{EnvId, Error, MapFlags, UpcallKinds};
use exo_user::libos_core::exception::{self, Fault, Resolution};
use exo_user::libos_core::vm::PageClass;
use exo_user::libos_core::{api, export, rt, sys, upcall};
use exo_user::{Start, println};

exo_user::entry!(main);

const SAMPLES: usize = 1000;
/// Spawn argument of the server half.
const SERVER: u64 = 1;

fn main(start: Start) -> u64 {
    if start.arg == SERVER {
        upcall::set_pct_handler(reply_at_once);
        if rt::refresh_upcalls().is_err() {
            return 1;
        }
        loop {
            let _ = api::block(None);
        }
    }
    println!("BENCH tsc_hz {}", export::kernel_info().tsc_hz);
    report("empty", &sample(|| timed(|| {})));
    report("null_syscall", &sample(null_syscall));
    let me = Some(start.id);
    report(
        "yield_self",
        &sample(|| {
            timed(|| {
                let _ = api::yield_to(me);
            })
        }),
    );
    match exceptions() {
        Ok(()) => {}
        Err(e) => {
            println!("bench: exception measurements failed: {e}");
            return 2;
        }
    }
    if let Err(e) = map_unmap() {
        println!("bench: map/unmap failed: {e}");
        return 3;
    }
    if let Err(e) = pct() {
        println!("bench: PCT failed: {e}");
        return 4;
    }
    println!("BENCH done");
    0
}

/// Sorts `samples` and prints min and median.
fn report(name: &str, samples: &[u64; SAMPLES]) {
    let mut s = *samples;
    s.sort_unstable();
    println!(
        "BENCH {name} min={} median={} max={}",
        s[0],
        s[SAMPLES / 2],
        s[SAMPLES - 1]
    );
}

fn sample(mut f: impl FnMut() -> u64) -> [u64; SAMPLES] {
    core::array::from_fn(|_| f())
}

/// TSC delta around `f`.
fn timed(f: impl FnOnce()) -> u64 {
    let t0 = sys::rdtsc();
    f();
    sys::rdtsc().wrapping_sub(t0)
}

fn null_syscall() -> u64 {
    let t0: u64;
    let t1: u64;
    // SAFETY: the null call changes nothing but rax/rdx (status, value) and
    // rcx/r11 (clobbered by the instruction), all declared.
    unsafe {
        asm!(
            "rdtsc",
            "shl $32, %rdx",
            "or %rdx, %rax",
            "mov %rax, %r12",
            "xor %eax, %eax",
            "syscall",
            "rdtsc",
            "shl $32, %rdx",
            "or %rdx, %rax",
            out("r12") t0, out("rax") t1, out("rdx") _, out("rcx") _, out("r11") _,
            options(att_syntax, nostack),
        );
    }
    t1.wrapping_sub(t0)
}

/// TSC at the first instruction of the minimal exception handler.
#[unsafe(no_mangle)]
static BENCH_T_HANDLER: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" {
    fn bench_minimal_handler();
}

// The minimal handler: stamp the TSC, skip the 2-byte `ud2`, and resume
// through libos-core's trampoline (which restores rax and rdx from the
// frame the kernel pushed).
core::arch::global_asm!(
    r#"
    .section .text.bench_handler, "ax"
    .global bench_minimal_handler
bench_minimal_handler:
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, BENCH_T_HANDLER(%rip)
    addq $2, {rip}(%rsp)
    jmp exo_libos_resume
    .text
"#,
    rip = const exo_abi::upcall::offsets::RIP,
    options(att_syntax)
);

/// (kernel path, round trip) of one `ud2` with the minimal handler.
fn ud2_minimal() -> (u64, u64) {
    let t0: u64;
    let t2: u64;
    // SAFETY: `ud2` traps to the minimal handler, which skips it and
    // resumes here with every register restored (rax, rdx come back from
    // the upcall frame; r12 is not touched).
    unsafe {
        asm!(
            "rdtsc",
            "shl $32, %rdx",
            "or %rdx, %rax",
            "mov %rax, %r12",
            "ud2",
            "rdtsc",
            "shl $32, %rdx",
            "or %rdx, %rax",
            out("r12") t0, out("rax") t2, out("rdx") _,
            options(att_syntax),
        );
    }
    let t1 = BENCH_T_HANDLER.load(Ordering::Relaxed);
    (t1.wrapping_sub(t0), t2.wrapping_sub(t0))
}

fn skip_ud2(f: &mut Fault<'_>) -> Resolution {
    f.set_rip(f.rip() + 2);
    Resolution::Resume
}

fn ud2_libos() -> u64 {
    timed(|| {
        // SAFETY: `ud2` traps to libos-core's handler, which skips it.
        unsafe { asm!("ud2", options(nostack)) }
    })
}

fn exceptions() -> Result<(), Error> {
    let (lo, hi) = rt::upcall_stack();
    // SAFETY: the minimal handler follows the upcall protocol (it resumes
    // through the library's trampoline); the stack is the library's.
    unsafe {
        api::upcall_register(
            bench_minimal_handler as *const () as u64,
            lo,
            hi,
            UpcallKinds::EXCEPTION,
        )?
    };
    let pairs: [(u64, u64); SAMPLES] = core::array::from_fn(|_| ud2_minimal());
    rt::refresh_upcalls()?;
    report("exception_kernel", &pairs.map(|p| p.0));
    report("exception_round_trip", &pairs.map(|p| p.1));
    exception::set_handler(skip_ud2);
    report("exception_libos", &sample(ud2_libos));
    Ok(())
}

fn map_unmap() -> Result<(), Error> {
    let frame = api::frame_alloc(None)?;
    // A VM address nothing uses (allocated and released).
    let v = rt::with_vm(|vm, mmu| {
        let v = vm.alloc(mmu, 1, MapFlags::WRITE, PageClass::Pinned)?;
        vm.free(mmu, v, 1).map(|()| v)
    })?;
    let mut failed = None;
    let samples = sample(|| {
        timed(|| {
            // SAFETY: `v` is unused by the program; it is mapped and
            // unmapped again without being touched.
            let r = unsafe { api::map(v, frame, MapFlags::WRITE).and_then(|()| api::unmap(v)) };
            if let Err(e) = r {
                failed = Some(e);
            }
        })
    });
    if let Some(e) = failed {
        return Err(e);
    }
    report("map_unmap", &samples);
    Ok(())
}

fn reply_at_once(sender: EnvId, _words: [u64; 5], call: bool) {
    let t_in = sys::rdtsc();
    if call {
        let _ = api::pct_reply(sender, [t_in, sys::rdtsc(), 0, 0, 0]);
    }
}

fn pct() -> Result<(), Error> {
    let server = api::spawn("bench", SERVER)?;
    // Let the server declare its entry.
    loop {
        match api::pct_call(server, [0; 5]) {
            // Not ready yet: give it the CPU (it may already be blocked,
            // then the yield is refused and the next call gets through).
            Err(Error::NoEntryPoint) => {
                let _ = api::yield_to(Some(server));
            }
            r => break r.map(drop)?,
        }
    }
    let mut failed = None;
    let triples: [(u64, u64, u64); SAMPLES] = core::array::from_fn(|_| {
        let t0 = sys::rdtsc();
        let r = api::pct_call(server, [0; 5]);
        let t1 = sys::rdtsc();
        match r {
            Ok(reply) => (
                t1.wrapping_sub(t0),
                reply.words[0].wrapping_sub(t0),
                t1.wrapping_sub(reply.words[1]),
            ),
            Err(e) => {
                failed = Some(e);
                (0, 0, 0)
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    report("pct_round_trip", &triples.map(|t| t.0));
    report("pct_call_path", &triples.map(|t| t.1));
    report("pct_reply_path", &triples.map(|t| t.2));
    api::kill(server)
}
