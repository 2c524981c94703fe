//! The `syscall` entry: MSR setup and the entry path.
//!
//! `syscall` leaves the user `rsp` in place and jumps to
//! `exo_syscall_entry` with IF, TF, DF, AC and NT cleared (SFMASK). The
//! entry saves the user `rsp` in a scratch word (one CPU: a static plays
//! the per-CPU area; with SMP this would become `swapgs` and a GS-based
//! area), switches to the dedicated system-call stack, builds a
//! [`TrapFrame`] there exactly like the interrupt stubs (so the kernel has
//! one saved-register format), saves the x87/SSE state, and calls
//! [`syscall_dispatch`].
//!
//! Short path: calls that do not switch environments are handled right
//! there; the stub restores everything but `rax`/`rdx` (the results) and
//! returns with `sysretq`. `rcx`/`r11` come back from the frame (the user
//! RIP and RFLAGS `syscall` saved); RIP is always the canonical address
//! after the `syscall` instruction on this path, so the sysret
//! non-canonical-RIP trap cannot happen. Full path: the frame goes to the
//! environment's saved context and the kernel loop takes over
//! (`user::save_and_exit`); it resumes the environment later with `iretq`.

use core::sync::atomic::Ordering;

use x86_64::registers::model_specific::{Efer, EferFlags, Msr};

use super::entry::TrapFrame;
use super::stack::GuardedStack;
use super::trap_asm::{call_with_frame, pop_registers, push_registers};
use super::user::{self, ExitReason, FxArea};

const IA32_STAR: u32 = 0xC000_0081;
const IA32_LSTAR: u32 = 0xC000_0082;
const IA32_FMASK: u32 = 0xC000_0084;

/// RFLAGS bits cleared on entry: TF, IF, DF, NT, AC.
const ENTRY_FLAG_MASK: u64 = 0x0004_4700;
/// Marker stored in `TrapFrame::vector` for frames built by this entry.
pub const SYSCALL_VECTOR: u64 = 0x100;

/// The network group's `Bind` verifies BPF handlers, JIT-compiles them,
/// recompiles the classifier and validates WebAssembly modules on this
/// stack (short path): deep recursion and large frames, hence the size.
const SYSCALL_STACK_SIZE: usize = 128 * 1024;

/// The stack the entry runs on (also RSP0 of the TSS).
pub static SYSCALL_STACK: GuardedStack<SYSCALL_STACK_SIZE> = GuardedStack::new();

/// What the kernel's dispatcher decided for a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Done: the frame holds the results; return with `sysretq`.
    Return,
    /// The call needs the kernel loop (it switches or ends the caller).
    FullPath,
}

/// Enables `syscall`/`sysret` and points LSTAR at the entry. Selectors:
/// STAR[47:32] = 0x08 (kernel CS, SS = 0x10); STAR[63:48] = 0x10, so
/// `sysretq` loads CS = 0x20|3 and SS = 0x18|3 (see `gdt.rs`).
pub fn init() {
    let star = (0x10u64 << 48) | (0x08u64 << 32);
    // SAFETY: the selectors match the GDT built by `gdt::init`, LSTAR
    // points at the entry below, and FMASK clears IF so the entry runs with
    // interrupts off until it has switched stacks.
    unsafe {
        Msr::new(IA32_STAR).write(star);
        Msr::new(IA32_LSTAR).write(exo_syscall_entry as *const () as u64);
        Msr::new(IA32_FMASK).write(ENTRY_FLAG_MASK);
        Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
    super::gdt::set_kernel_stack(SYSCALL_STACK.top());
}

/// Called by the entry stub with the saved frame and FPU image.
extern "C" fn syscall_dispatch(frame: &mut TrapFrame, fx: &mut FxArea) {
    frame.vector = SYSCALL_VECTOR;
    match crate::syscall::short_path(frame) {
        Disposition::Return => {}
        Disposition::FullPath => user::save_and_exit(frame, fx, ExitReason::Syscall),
    }
}

unsafe extern "C" {
    fn exo_syscall_entry();
}

core::arch::global_asm!(
    concat!(
        r#"
    .section .text.exo_syscall, "ax"
    .global exo_syscall_entry
    .p2align 4
exo_syscall_entry:
    mov %rsp, {scratch}(%rip)
    lea {stack}+{top}(%rip), %rsp
    push ${user_ss}
    push {scratch}(%rip)
    push %r11
    push ${user_cs}
    push %rcx
    push $0
    push $0
"#,
        push_registers!(),
        call_with_frame!("{dispatch}"),
        pop_registers!(),
        r#"
    pop %rcx
    add $8, %rsp
    pop %r11
    pop %rsp
    sysretq
    .text
"#
    ),
    scratch = sym EXO_USER_RSP_SCRATCH,
    stack = sym SYSCALL_STACK,
    top = const GuardedStack::<SYSCALL_STACK_SIZE>::TOP_OFFSET,
    user_ss = const user::USER_SS,
    user_cs = const user::USER_CS,
    user_ts = sym user::EXO_USER_TS,
    mxcsr = sym user::EXO_KERNEL_MXCSR,
    dispatch = sym syscall_dispatch,
    options(att_syntax)
);

/// The user `rsp` between `syscall` and the stack switch.
#[unsafe(no_mangle)]
static EXO_USER_RSP_SCRATCH: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The user stack pointer of the last system call (diagnostics).
pub fn last_user_rsp() -> u64 {
    EXO_USER_RSP_SCRATCH.load(Ordering::Relaxed)
}
