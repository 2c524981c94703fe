//! Entering ring 3 and coming back: the saved user contexts, `enter`/`exit`
//! and the lazy-FPU switch.
//!
//! The kernel runs its scheduling loop on an ordinary kernel stack and
//! calls [`run`] to resume an environment from its saved [`UserContext`]
//! (`iretq`). Every way back into the kernel from ring 3 (a system call on
//! its full path, an interrupt that asks for the scheduler, an exception the
//! environment cannot handle) copies the user registers and FPU/SSE state
//! into the context of the current environment and calls [`exit_to_kernel`],
//! which restores the scheduler's stack and callee-saved registers and makes
//! `run` return the [`ExitReason`]. The stacks the trap was taken on (an IST
//! stack or the system-call stack) are simply abandoned: they are reset on
//! the next entry.
//!
//! Contexts live in a static array indexed like the environment table, so
//! the trap paths find the current one without locks and the rest of the
//! kernel reaches them through [`with_context`] only.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use super::entry::TrapFrame;
use super::layout::USER_END;
use super::trap_asm::pop_registers;

/// Contexts (one per environment-table slot).
pub const MAX_CONTEXTS: usize = exo_abi::ids::MAX_ENVS;

/// User code and data selectors (RPL 3), see `gdt.rs`.
pub const USER_CS: u64 = 0x23;
pub const USER_SS: u64 = 0x1B;

/// RFLAGS bits an environment may control: CF PF AF ZF SF TF DF OF AC ID.
const USER_FLAGS: u64 = 0x0024_0DD5;
/// RFLAGS bits always set in ring 3: IF and the reserved bit 1.
const FORCED_FLAGS: u64 = 0x202;

/// The 512-byte `fxsave64` image of the x87/SSE state.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct FxArea(pub [u8; 512]);

impl FxArea {
    /// The state after `fninit` with the default MXCSR (all exceptions
    /// masked, round to nearest).
    pub const fn initial() -> FxArea {
        let mut b = [0u8; 512];
        // FCW = 0x037F at offset 0, MXCSR = 0x1F80 at offset 24.
        b[0] = 0x7F;
        b[1] = 0x03;
        b[24] = 0x80;
        b[25] = 0x1F;
        FxArea(b)
    }
}

/// Saved state of an environment that is not running.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct UserContext {
    /// Offset 0 (the assembly relies on it).
    pub fx: FxArea,
    /// Offset 512: general registers, then `vector`/`error_code` (free for
    /// the kernel: the last exception), then an `iretq` frame.
    pub regs: TrapFrame,
    /// Run with CR0.TS set, so the first x87/SSE instruction raises #NM.
    pub lazy_fpu: bool,
}

impl UserContext {
    /// A fresh context starting at `rip` with stack `rsp`.
    pub const fn new(rip: u64, rsp: u64) -> UserContext {
        UserContext {
            fx: FxArea::initial(),
            regs: TrapFrame {
                rax: 0,
                rbx: 0,
                rcx: 0,
                rdx: 0,
                rsi: 0,
                rdi: 0,
                rbp: 0,
                r8: 0,
                r9: 0,
                r10: 0,
                r11: 0,
                r12: 0,
                r13: 0,
                r14: 0,
                r15: 0,
                vector: 0,
                error_code: 0,
                rip,
                cs: USER_CS,
                rflags: FORCED_FLAGS,
                rsp,
                ss: USER_SS,
            },
            lazy_fpu: false,
        }
    }
}

/// Why [`run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// A system call that needs the full path; arguments are in the context.
    Syscall,
    /// An interrupt arrived and the kernel has work (end of slice, a
    /// deadline, deferred work, a wake-up).
    Interrupt,
    /// An exception the environment cannot take; `regs.vector` and
    /// `regs.error_code` of the context say which.
    Fault,
}

const REASON_SYSCALL: u64 = 1;
const REASON_INTERRUPT: u64 = 2;
const REASON_FAULT: u64 = 3;

impl ExitReason {
    const fn code(self) -> u64 {
        match self {
            Self::Syscall => REASON_SYSCALL,
            Self::Interrupt => REASON_INTERRUPT,
            Self::Fault => REASON_FAULT,
        }
    }
}

/// Why a context cannot be entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadContext {
    /// The instruction pointer is outside the user half.
    Rip(u64),
    /// The stack pointer is not canonical.
    Rsp(u64),
    /// No such context.
    Index(usize),
}

impl core::fmt::Display for BadContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Rip(a) => write!(f, "instruction pointer {a:#x} is outside the user half"),
            Self::Rsp(a) => write!(f, "stack pointer {a:#x} is not canonical"),
            Self::Index(i) => write!(f, "no user context {i}"),
        }
    }
}

struct Contexts(UnsafeCell<[UserContext; MAX_CONTEXTS]>);

// SAFETY: one CPU. The array is touched by `with_context` (kernel code,
// never re-entered: BORROWED catches nesting), by `save_and_exit` (trap
// paths from ring 3, which run only while `run` is in progress, when no
// `with_context` borrow exists) and by the entry assembly for the context
// passed to `run`.
unsafe impl Sync for Contexts {}

static CONTEXTS: Contexts = Contexts(UnsafeCell::new(
    [const { UserContext::new(0, 0) }; MAX_CONTEXTS],
));
static BORROWED: AtomicBool = AtomicBool::new(false);

/// Saved contexts per environment slot for protected control transfers
/// being served (see `sched::pct`): a reply restores the server to where
/// the call interrupted it.
pub const MAX_CONTINUATIONS: usize = 4;

struct Continuations(UnsafeCell<[[UserContext; MAX_CONTINUATIONS]; MAX_CONTEXTS]>);

// SAFETY: one CPU; touched only by `save_continuation`/`restore_continuation`
// from kernel code (never from trap paths), which do not nest.
unsafe impl Sync for Continuations {}

static CONTINUATIONS: Continuations = Continuations(UnsafeCell::new(
    [const { [const { UserContext::new(0, 0) }; MAX_CONTINUATIONS] }; MAX_CONTEXTS],
));

/// Copies context `index` into its continuation slot `depth`.
pub fn save_continuation(index: usize, depth: usize) -> Result<(), BadContext> {
    if depth >= MAX_CONTINUATIONS {
        return Err(BadContext::Index(depth));
    }
    with_context(index, |ctx| {
        // SAFETY: index and depth are in bounds (with_context checked the
        // index); continuations are only touched by these two functions,
        // which run in kernel code and never nest.
        unsafe { (*CONTINUATIONS.0.get())[index][depth] = *ctx };
    })
}

/// Replaces context `index` with its continuation slot `depth`.
pub fn restore_continuation(index: usize, depth: usize) -> Result<(), BadContext> {
    if depth >= MAX_CONTINUATIONS {
        return Err(BadContext::Index(depth));
    }
    with_context(index, |ctx| {
        // SAFETY: as in `save_continuation`.
        *ctx = unsafe { (*CONTINUATIONS.0.get())[index][depth] };
    })
}
const NONE: usize = usize::MAX;
/// Index of the context whose code runs in ring 3 now.
static CURRENT: AtomicUsize = AtomicUsize::new(NONE);

/// Kernel stack pointer saved by `exo_enter_user` (read by the exit path).
#[unsafe(no_mangle)]
static EXO_KERNEL_RESUME_RSP: AtomicU64 = AtomicU64::new(0);
/// Non-zero while the current environment runs with CR0.TS set: the entry
/// stubs then `clts` before saving FPU state and set TS again on return.
#[unsafe(no_mangle)]
pub static EXO_USER_TS: AtomicU8 = AtomicU8::new(0);
/// MXCSR the kernel runs with (loaded on every entry from ring 3).
#[unsafe(no_mangle)]
pub static EXO_KERNEL_MXCSR: u32 = 0x1F80;

/// Runs `f` on context `index`. Panics if called re-entrantly (a kernel
/// bug).
pub fn with_context<R>(
    index: usize,
    f: impl FnOnce(&mut UserContext) -> R,
) -> Result<R, BadContext> {
    if index >= MAX_CONTEXTS {
        return Err(BadContext::Index(index));
    }
    assert!(
        !BORROWED.swap(true, Ordering::Acquire),
        "user contexts borrowed twice"
    );
    // SAFETY: index is in bounds; BORROWED guarantees this is the only
    // reference into the array (trap paths only run while `run` executes,
    // which never overlaps a `with_context` call on one CPU).
    let ctx = unsafe { &mut (*CONTEXTS.0.get())[index] };
    let r = f(ctx);
    BORROWED.store(false, Ordering::Release);
    Ok(r)
}

/// Whether `addr` is canonical.
pub const fn canonical(addr: u64) -> bool {
    addr < USER_END || addr >= 0xFFFF_8000_0000_0000
}

/// Makes a context safe to enter: user selectors, allowed flags only, and
/// an instruction pointer `iretq` cannot fault on.
fn sanitize(ctx: &mut UserContext) -> Result<(), BadContext> {
    let r = &mut ctx.regs;
    if r.rip >= USER_END {
        return Err(BadContext::Rip(r.rip));
    }
    if !canonical(r.rsp) {
        return Err(BadContext::Rsp(r.rsp));
    }
    r.cs = USER_CS;
    r.ss = USER_SS;
    r.rflags = (r.rflags & USER_FLAGS) | FORCED_FLAGS;
    Ok(())
}

/// Index of the context whose code runs now (`None` in kernel code).
pub fn current() -> Option<usize> {
    match CURRENT.load(Ordering::Relaxed) {
        NONE => None,
        i => Some(i),
    }
}

/// Resumes context `index` in ring 3 in the current address space (the
/// caller switched CR3) and returns when the environment comes back to the
/// kernel. Interrupts are enabled in ring 3 and disabled again here.
pub fn run(index: usize) -> Result<ExitReason, BadContext> {
    let lazy = with_context(index, |ctx| sanitize(ctx).map(|()| ctx.lazy_fpu))??;
    CURRENT.store(index, Ordering::Relaxed);
    EXO_USER_TS.store(u8::from(lazy), Ordering::Relaxed);
    // SAFETY: the context was sanitized (user selectors, canonical user RIP,
    // canonical RSP, IF set, IOPL 0), its FPU image came from fxsave or
    // `FxArea::initial`, the caller activated an address space that maps
    // the kernel half, and no borrow of the context array is live. The
    // assembly returns here through `exo_exit_to_kernel`.
    let code = unsafe { exo_enter_user((*CONTEXTS.0.get()).as_mut_ptr().add(index)) };
    CURRENT.store(NONE, Ordering::Relaxed);
    Ok(match code {
        REASON_SYSCALL => ExitReason::Syscall,
        REASON_INTERRUPT => ExitReason::Interrupt,
        _ => ExitReason::Fault,
    })
}

/// Sets whether context `index` runs with lazy FPU (takes effect when it
/// next enters ring 3; from the short system-call path of that same
/// environment, also for the rest of the current run).
pub fn set_lazy_fpu(index: usize, on: bool) {
    let _ = with_context(index, |c| c.lazy_fpu = on);
    if current() == Some(index) {
        EXO_USER_TS.store(u8::from(on), Ordering::Relaxed);
    }
}

/// Stops the lazy-FPU mode of the running environment (after delivering
/// its #NM): the entry stub already cleared CR0.TS and will not set it again.
pub fn end_lazy_fpu_of_current() {
    EXO_USER_TS.store(0, Ordering::Relaxed);
    if let Some(i) = current() {
        // SAFETY: called from a trap path of the running environment, where
        // no `with_context` borrow exists; only the flag is written.
        unsafe { (*CONTEXTS.0.get())[i].lazy_fpu = false };
    }
}

/// Saves the trapped user state into the current context and returns to
/// the kernel loop with `reason`. Called on an IST or the system-call stack
/// for a trap from ring 3; must not be called with locks held (their guards
/// would never drop).
pub fn save_and_exit(frame: &TrapFrame, fx: &FxArea, reason: ExitReason) -> ! {
    let i = CURRENT.load(Ordering::Relaxed);
    assert!(
        i < MAX_CONTEXTS,
        "trap from ring 3 without a current context"
    );
    // SAFETY: `i` is the running context; while it runs no `with_context`
    // borrow exists, and this path is not re-entered (interrupts are off).
    let ctx = unsafe { &mut (*CONTEXTS.0.get())[i] };
    ctx.regs = *frame;
    ctx.fx = *fx;
    exit_to_kernel(reason)
}

/// Returns to the kernel loop (the caller of [`run`]) with `reason`.
pub fn exit_to_kernel(reason: ExitReason) -> ! {
    // SAFETY: only reached from trap paths taken in ring 3 while `run` is
    // in progress, so EXO_KERNEL_RESUME_RSP holds the stack of that `run`
    // call with its callee-saved registers pushed.
    unsafe { exo_exit_to_kernel(reason.code()) }
}

unsafe extern "C" {
    fn exo_enter_user(ctx: *mut UserContext) -> u64;
    fn exo_exit_to_kernel(reason: u64) -> !;
}

core::arch::global_asm!(
    concat!(
        r#"
    .section .text.exo_user, "ax"
    .global exo_enter_user
    .p2align 4
exo_enter_user:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, {resume_rsp}(%rip)
    fxrstor64 (%rdi)
    cmpb $0, {user_ts}(%rip)
    je 1f
    mov %cr0, %rax
    or $8, %rax
    mov %rax, %cr0
1:
    lea 512(%rdi), %rsp
"#,
        pop_registers!(),
        r#"
    iretq

    .global exo_exit_to_kernel
    .p2align 4
exo_exit_to_kernel:
    movb $0, {user_ts}(%rip)
    mov {resume_rsp}(%rip), %rsp
    mov %rdi, %rax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .text
"#
    ),
    resume_rsp = sym EXO_KERNEL_RESUME_RSP,
    user_ts = sym EXO_USER_TS,
    options(att_syntax)
);

const _: () = {
    assert!(core::mem::offset_of!(UserContext, fx) == 0);
    assert!(core::mem::offset_of!(UserContext, regs) == 512);
    assert!(core::mem::size_of::<TrapFrame>() == 22 * 8);
};

crate::kernel_test! {
    fn contexts_are_sanitized_before_entry() {
        let mut c = UserContext::new(0x40_0000, 0x7000_0000_0000);
        c.regs.rflags = u64::MAX;
        c.regs.cs = 0x08;
        sanitize(&mut c)?;
        ensure_eq!(c.regs.cs, USER_CS);
        ensure_eq!(c.regs.ss, USER_SS);
        ensure_eq!(c.regs.rflags & 0x3000, 0); // IOPL 0
        ensure!(c.regs.rflags & 0x200 != 0, "IF must be set in ring 3");
        ensure_eq!(c.regs.rflags & (1 << 14), 0); // NT clear
        c.regs.rip = 0xFFFF_FFFF_8000_0000;
        ensure_eq!(sanitize(&mut c), Err(BadContext::Rip(0xFFFF_FFFF_8000_0000)));
        c.regs.rip = 0x40_0000;
        c.regs.rsp = 0x8000_0000_0000_0000;
        ensure_eq!(sanitize(&mut c), Err(BadContext::Rsp(0x8000_0000_0000_0000)));
        ensure_eq!(with_context(MAX_CONTEXTS, |_| ()), Err(BadContext::Index(MAX_CONTEXTS)));
        Ok(())
    }
}
