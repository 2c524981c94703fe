//! Crash reports for unexpected exceptions and panics, then exit.
//!
//! The report goes straight to the serial port (no lock: the faulting code
//! may hold the console lock) in a fixed, line-oriented format that
//! `cargo xtask` parses and symbolizes:
//!
//! ```text
//! === EXO CRASH REPORT ===
//! exception: vector=14 name=#PF (page fault) error=0x2
//! rip=0x... cs=0x8 rflags=0x... rsp=0x... ss=0x10
//! cr2=0x... cr3=0x...
//! rax=0x... rbx=0x... rcx=0x... rdx=0x...
//! ...
//! note: ...                       (optional, e.g. stack overflow)
//! backtrace:
//!   #0 0xffffffff8010a2b4
//!   #1 ...
//! === END CRASH REPORT ===
//! ```
//!
//! Backtraces follow the frame-pointer chain (the kernel is built with
//! `-C force-frame-pointers=yes`) and only read memory inside a known kernel
//! stack, so a corrupt chain ends the trace instead of faulting again.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::serial::RawSerial;
use crate::arch::trap::EXCEPTION_NAMES;
use crate::arch::{TrapFrame, cpu};
use crate::exit::{ExitCode, exit};
use crate::mm::kstack;

/// Most frames printed.
const MAX_FRAMES: usize = 32;

static CRASHING: AtomicBool = AtomicBool::new(false);

/// Stops a second crash that happens while reporting the first.
fn enter(out: &mut RawSerial) {
    if CRASHING.swap(true, Ordering::SeqCst) {
        let _ = writeln!(out, "\n=== EXO NESTED CRASH: giving up ===");
        exit(ExitCode::Crash);
    }
}

/// Reports an unexpected exception and exits QEMU with `ExitCode::Crash`.
pub fn exception(frame: &TrapFrame) -> ! {
    let mut out = RawSerial;
    enter(&mut out);
    let vector = frame.vector as usize;
    let (short, long) = EXCEPTION_NAMES
        .get(vector)
        .copied()
        .unwrap_or(("?", "unknown"));
    let cr2 = cpu::cr2();
    let _ = writeln!(out, "\n=== EXO CRASH REPORT ===");
    let _ = writeln!(
        out,
        "exception: vector={vector} name={short} ({long}) error={:#x}",
        frame.error_code
    );
    let _ = writeln!(
        out,
        "rip={:#018x} cs={:#x} rflags={:#x} rsp={:#018x} ss={:#x}",
        frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss
    );
    let _ = writeln!(out, "cr2={cr2:#018x} cr3={:#018x}", cpu::cr3());
    let regs = [
        ("rax", frame.rax),
        ("rbx", frame.rbx),
        ("rcx", frame.rcx),
        ("rdx", frame.rdx),
        ("rsi", frame.rsi),
        ("rdi", frame.rdi),
        ("rbp", frame.rbp),
        ("r8", frame.r8),
        ("r9", frame.r9),
        ("r10", frame.r10),
        ("r11", frame.r11),
        ("r12", frame.r12),
        ("r13", frame.r13),
        ("r14", frame.r14),
        ("r15", frame.r15),
    ];
    for line in regs.chunks(4) {
        for (i, (name, value)) in line.iter().enumerate() {
            let sep = if i + 1 == line.len() { "\n" } else { " " };
            let _ = write!(out, "{name}={value:#018x}{sep}");
        }
    }
    if vector == 14
        && let Some(stack) = kstack::find(cr2).filter(|s| s.guard_contains(cr2))
    {
        let _ = writeln!(
            out,
            "note: cr2 is in the guard page of kernel stack '{}': stack overflow",
            stack.name
        );
    }
    if vector == 8
        && let Some(stack) = kstack::find(frame.rsp).filter(|s| s.guard_contains(frame.rsp))
    {
        let _ = writeln!(
            out,
            "note: rsp is in the guard page of kernel stack '{}': stack overflow",
            stack.name
        );
    }
    backtrace(&mut out, frame.rip, frame.rbp);
    let _ = writeln!(out, "=== END CRASH REPORT ===");
    exit(ExitCode::Crash)
}

/// Reports a panic and exits QEMU with `ExitCode::Panic`.
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut out = RawSerial;
    enter(&mut out);
    #[cfg(feature = "qemu-tests")]
    if let Some(name) = crate::ktest::runner::current_test() {
        let _ = writeln!(
            out,
            "\nKTEST panic {}",
            name.strip_prefix("kernel::").unwrap_or(name)
        );
    }
    let _ = writeln!(out, "\n=== EXO PANIC ===");
    match info.location() {
        Some(l) => {
            let _ = writeln!(
                out,
                "panic at {}:{}:{}: {}",
                l.file(),
                l.line(),
                l.column(),
                info.message()
            );
        }
        None => {
            let _ = writeln!(out, "panic: {}", info.message());
        }
    }
    let rbp = cpu::frame_pointer();
    backtrace(&mut out, 0, rbp);
    let _ = writeln!(out, "=== END CRASH REPORT ===");
    exit(ExitCode::Panic)
}

/// Prints `rip` (if non-zero) and the return addresses of the frame chain
/// starting at `rbp`.
fn backtrace(out: &mut RawSerial, rip: u64, mut rbp: u64) {
    let _ = writeln!(out, "backtrace:");
    let mut n = 0;
    if rip != 0 {
        let _ = writeln!(out, "  #{n} {rip:#018x}");
        n += 1;
    }
    let Some(stack) = kstack::find(rbp) else {
        let _ = writeln!(
            out,
            "  (frame pointer {rbp:#x} is not in a known kernel stack)"
        );
        return;
    };
    while n < MAX_FRAMES {
        if !rbp.is_multiple_of(8) || !stack.contains(rbp) || !stack.contains(rbp + 15) {
            break;
        }
        let (next, ret) = read_frame(rbp);
        if ret == 0 {
            break;
        }
        let _ = writeln!(out, "  #{n} {ret:#018x}");
        n += 1;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
}

/// Reads the saved RBP and return address of the frame at `rbp`.
fn read_frame(rbp: u64) -> (u64, u64) {
    let p = rbp as *const u64;
    // SAFETY: the caller checked that [rbp, rbp + 16) lies inside a mapped
    // kernel stack and is 8-byte aligned; reading stale values is harmless.
    unsafe {
        (
            core::ptr::read_volatile(p),
            core::ptr::read_volatile(p.add(1)),
        )
    }
}
