//! Exceptions straight to the environment: the probe raises every kind the
//! kernel delivers and checks that its own handler saw each one with the
//! right vector, error code and address, then resumed without the kernel.
//!
//! Convention: each deliberate fault is an `asm!` block that loads the
//! address after the faulting instruction into `r12` and sets `ARMED`; the
//! handler records the fault and resumes at `r12`. #NM resumes at the same
//! instruction (the kernel switched the probe back to eager FPU), #AC also
//! clears RFLAGS.AC.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use exo_abi::MapFlags;
use exo_abi::layout::KERNEL_INFO;
use exo_abi::upcall::page_fault::{FETCH, PRESENT, USER, WRITE};
use exo_user::libos_core::exception::{self, Fault, Reg, Resolution};
use exo_user::libos_core::vm::PageClass;
use exo_user::libos_core::{api, rt};
use exo_user::println;

use crate::check::{Check, ok, that};

static ARMED: AtomicBool = AtomicBool::new(false);
static VECTOR: AtomicU64 = AtomicU64::new(u64::MAX);
static ERROR: AtomicU64 = AtomicU64::new(0);
static ADDR: AtomicU64 = AtomicU64::new(0);
static DEVICE_NOT_AVAILABLE: AtomicU64 = AtomicU64::new(0);

const AC: u64 = 1 << 18;

/// The probe's exception handler (also used by the garbage and PCT modes).
pub fn handler(f: &mut Fault<'_>) -> Resolution {
    if f.vector() == 7 {
        DEVICE_NOT_AVAILABLE.fetch_add(1, Ordering::Relaxed);
        return Resolution::Resume;
    }
    if !ARMED.swap(false, Ordering::AcqRel) {
        println!(
            "probe: unexpected exception {} (error {:#x}, address {:#x}) at {:#x}",
            f.vector(),
            f.error(),
            f.addr(),
            f.rip()
        );
        return Resolution::Exit(exo_abi::probe::FAILED_BASE + 999);
    }
    VECTOR.store(u64::from(f.vector()), Ordering::Relaxed);
    ERROR.store(f.error(), Ordering::Relaxed);
    ADDR.store(f.addr(), Ordering::Relaxed);
    let resume = f.reg(Reg::R12);
    f.set_rip(resume);
    f.set_rflags(f.rflags() & !AC);
    Resolution::Resume
}

/// Arms the handler for one deliberate fault.
pub fn arm() {
    VECTOR.store(u64::MAX, Ordering::Relaxed);
    ARMED.store(true, Ordering::Release);
}

/// The last recorded fault: (vector, error code, address).
pub fn last() -> (u64, u64, u64) {
    (
        VECTOR.load(Ordering::Relaxed),
        ERROR.load(Ordering::Relaxed),
        ADDR.load(Ordering::Relaxed),
    )
}

/// Reads one byte at `addr`, which may fault; `None` if it did.
pub fn guarded_read(addr: u64) -> Option<u8> {
    arm();
    let v: u64;
    // SAFETY: a deliberate access that may fault; the handler resumes at
    // label 1 (in r12). No Rust-visible memory is written.
    unsafe {
        asm!(
            "lea 1f(%rip), %r12",
            "xor %eax, %eax",
            "movb ({addr}), %al",
            "1:",
            addr = in(reg) addr,
            out("rax") v,
            out("r12") _,
            options(att_syntax, nostack),
        );
    }
    let faulted = !ARMED.swap(false, Ordering::AcqRel);
    (!faulted).then_some(v as u8)
}

/// Writes one byte at `addr`, which must fault (the page is not writable).
fn faulting_write(addr: u64) {
    arm();
    // SAFETY: a deliberate write to a page the probe may not write: it
    // faults before storing anything; the handler resumes at label 1.
    unsafe {
        asm!(
            "lea 1f(%rip), %r12",
            "movb $0x5a, ({addr})",
            "1:",
            addr = in(reg) addr,
            out("r12") _,
            options(att_syntax, nostack),
        );
    }
}

/// Jumps to `addr` (a no-execute page): the fetch faults.
fn faulting_jump(addr: u64) {
    arm();
    // SAFETY: the jump faults on instruction fetch (the page is NX), so no
    // foreign code runs; the handler resumes at label 1.
    unsafe {
        asm!(
            "lea 1f(%rip), %r12",
            "jmp *{addr}",
            "1:",
            addr = in(reg) addr,
            out("r12") _,
            options(att_syntax),
        );
    }
}

fn divide_by_zero() {
    arm();
    // SAFETY: a deliberate #DE; the handler resumes at label 1.
    unsafe {
        asm!(
            "lea 1f(%rip), %r12",
            "xor %edx, %edx",
            "xor %ecx, %ecx",
            "mov $1, %eax",
            "div %ecx",
            "1:",
            out("r12") _, out("rax") _, out("rdx") _, out("rcx") _,
            options(att_syntax, nostack),
        );
    }
}

fn invalid_opcode() {
    arm();
    // SAFETY: a deliberate #UD; the handler resumes at label 1.
    unsafe {
        asm!("lea 1f(%rip), %r12", "ud2", "1:", out("r12") _, options(att_syntax, nostack));
    }
}

fn breakpoint() {
    arm();
    // SAFETY: a deliberate #BP (a trap: the handler gets the address after
    // int3 and resumes at label 1 anyway).
    unsafe {
        asm!("lea 1f(%rip), %r12", "int3", "1:", out("r12") _, options(att_syntax, nostack));
    }
}

fn misaligned_with_alignment_checks() {
    let buffer = [0u64; 2];
    arm();
    // SAFETY: sets RFLAGS.AC and loads 4 bytes at an odd address inside
    // `buffer`: #AC; the handler clears AC and resumes at label 1, so AC
    // never stays set for Rust code. The load itself stays in bounds.
    unsafe {
        asm!(
            "lea 1f(%rip), %r12",
            "pushfq",
            "orl $0x40000, (%rsp)",
            "popfq",
            "movl 1({buf}), %eax",
            "1:",
            buf = in(reg) buffer.as_ptr(),
            out("r12") _, out("rax") _,
            options(att_syntax),
        );
    }
}

fn non_canonical_read() {
    arm();
    // SAFETY: a deliberate #GP (non-canonical address); nothing is read.
    unsafe {
        asm!(
            "lea 1f(%rip), %r12",
            "movabs $0x8000000000000000, %rax",
            "movb (%rax), %al",
            "1:",
            out("r12") _, out("rax") _,
            options(att_syntax, nostack),
        );
    }
}

fn sse_instruction() {
    // SAFETY: an SSE instruction on scratch registers; with lazy FPU on it
    // raises #NM first and re-executes after the handler.
    unsafe { asm!("xorps %xmm3, %xmm3", out("xmm3") _, options(att_syntax, nostack)) };
}

fn expect(n: Check, what: &str, vector: u64, error: u64, addr: Option<u64>) -> Result<(), Check> {
    let (v, e, a) = last();
    let addr_ok = addr.is_none_or(|want| want == a);
    if v == vector && e == error && addr_ok {
        return Ok(());
    }
    println!(
        "probe: check {n} ({what}): got vector {v} error {e:#x} address {a:#x}, expected {vector} {error:#x} {addr:x?}"
    );
    Err(n)
}

/// Mode `Faults`.
pub fn run() -> Result<(), Check> {
    exception::set_handler(handler);
    let unmapped = 0x0000_5800_0000_0000u64;
    let _ = guarded_read(unmapped);
    expect(1, "read unmapped", 14, USER, Some(unmapped))?;
    // The kernel's direct map of physical memory: present, supervisor only.
    let kernel = 0xFFFF_8000_0010_0000u64;
    let _ = guarded_read(kernel);
    expect(2, "read kernel", 14, USER | PRESENT, Some(kernel))?;
    let ro = ok(
        3,
        "map read-only page",
        rt::with_vm(|vm, mmu| vm.alloc(mmu, 1, MapFlags::empty(), PageClass::Pinned)),
    )?;
    faulting_write(ro);
    expect(4, "write read-only", 14, USER | PRESENT | WRITE, Some(ro))?;
    faulting_write(KERNEL_INFO);
    expect(
        5,
        "write export",
        14,
        USER | PRESENT | WRITE,
        Some(KERNEL_INFO),
    )?;
    faulting_jump(ro);
    expect(
        6,
        "execute no-execute page",
        14,
        USER | PRESENT | FETCH,
        Some(ro),
    )?;
    non_canonical_read();
    expect(7, "non-canonical", 13, 0, None)?;
    divide_by_zero();
    expect(8, "divide", 0, 0, None)?;
    invalid_opcode();
    expect(9, "invalid opcode", 6, 0, None)?;
    breakpoint();
    expect(10, "breakpoint", 3, 0, None)?;
    misaligned_with_alignment_checks();
    // QEMU's TCG does not emulate alignment checking: there the access
    // simply succeeds. Where the CPU checks (hardware, KVM), #AC must
    // arrive like the others.
    let alignment_checked = last().0 != u64::MAX;
    ARMED.store(false, Ordering::Release);
    if alignment_checked {
        expect(11, "alignment check", 17, 0, None)?;
    } else {
        println!(
            "probe: this CPU does not raise #AC (TCG does not emulate alignment checks); skipped"
        );
    }
    ok(12, "lazy FPU on", api::fpu_lazy(true))?;
    sse_instruction();
    that(
        13,
        "exactly one #NM",
        DEVICE_NOT_AVAILABLE.load(Ordering::Relaxed) == 1,
    )?;
    sse_instruction();
    that(
        14,
        "eager FPU after #NM",
        DEVICE_NOT_AVAILABLE.load(Ordering::Relaxed) == 1,
    )?;
    let expected = 10 + u64::from(alignment_checked);
    that(
        15,
        "every exception went to the handler",
        exception::delivered() == expected,
    )?;
    println!(
        "probe: {} exceptions handled in ring 3",
        exception::delivered()
    );
    Ok(())
}

/// Mode `Unhandled`: no handler, touch kernel memory. The kernel must end
/// this environment (and nothing else).
pub fn unhandled() -> Result<(), Check> {
    // Without our handler the library OS's default one exits with
    // UNHANDLED_BASE + vector; the kernel test expects the kernel to kill
    // us instead, so take exceptions away entirely.
    // SAFETY: removes the upcall declaration; no upcall can reach a stale
    // entry afterwards.
    let _ = unsafe { api::upcall_register(0, 0, 0, exo_abi::UpcallKinds::empty()) };
    // SAFETY: a deliberate read of kernel memory: it faults and, with no
    // handler, the kernel ends this environment; nothing after it runs.
    unsafe {
        asm!("movb (%rax), %al", in("rax") 0xFFFF_FFFF_8000_0000u64, options(att_syntax, nostack))
    };
    Err(1)
}
