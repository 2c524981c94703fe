//! The upcall entry and the user-mode resume trampoline (protocol:
//! `exo_abi::upcall`).
//!
//! `exo_libos_upcall_entry` is what the library OS registers as its entry
//! point. It runs on the frame the kernel pushed, saves the registers the
//! kernel did not (`rcx, r11, rbx, rbp, r12-r15`) and the x87/SSE state,
//! calls [`dispatch`] with the kind, the frame and the saved registers,
//! restores everything and resumes the interrupted code through
//! `exo_libos_resume`, entirely in user mode: it writes the interrupted
//! RFLAGS and RIP just below the interrupted stack's red zone, reloads the
//! seven registers the kernel saved in the frame, switches to that stack,
//! `popfq`, and `ret $128` (which also skips the red zone). Handlers may
//! change any saved register, the RIP, the RSP and the flags before
//! returning (e.g. to skip a faulting instruction).
//!
//! Handlers are plain function pointers registered before the upcall kinds
//! are declared to the kernel; upcalls nest (the kernel pushes a nested
//! frame below the current one).

use core::sync::atomic::{AtomicUsize, Ordering};

use exo_abi::upcall::{PCT_MODE_CALL, offsets};
use exo_abi::{EnvId, UpcallFrame, UpcallKind};

use crate::exception::{self, Fault};

/// Registers the entry saved that the kernel did not put in the frame, in
/// memory order (the entry pushes `rcx` first, `r15` last).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SavedRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub rcx: u64,
}

/// A protected control transfer arrived: sender, five words, and whether
/// the sender waits for a reply.
pub type PctHandler = fn(EnvId, [u64; 5], bool);
/// The slice ends: yield before this clock time.
pub type SliceEndHandler = fn(u64);
/// Give back this many frames by this clock time (emergency: the guarantee
/// does not hold).
pub type RevocationHandler = fn(u64, u64, bool);
/// Resources were repossessed: entries in the vector now, new ones.
pub type RepossessionHandler = fn(u64, u64);

/// One registered function pointer (0: the default).
struct Slot(AtomicUsize);

impl Slot {
    const fn new() -> Slot {
        Slot(AtomicUsize::new(0))
    }
}

static PCT: Slot = Slot::new();
static SLICE_END: Slot = Slot::new();
static REVOCATION: Slot = Slot::new();
static REPOSSESSION: Slot = Slot::new();

macro_rules! handler_slot {
    ($set:ident, $get:ident, $slot:ident, $ty:ty) => {
        /// Installs the handler (replacing the previous one).
        pub fn $set(h: $ty) {
            $slot.0.store(h as usize, Ordering::Release);
        }

        fn $get() -> Option<$ty> {
            match $slot.0.load(Ordering::Acquire) {
                0 => None,
                // SAFETY: non-zero values are only stored by the setter
                // above, from a function pointer of exactly this type.
                raw => Some(unsafe { core::mem::transmute::<usize, $ty>(raw) }),
            }
        }
    };
}

handler_slot!(set_pct_handler, pct_handler, PCT, PctHandler);
handler_slot!(
    set_slice_end_handler,
    slice_end_handler,
    SLICE_END,
    SliceEndHandler
);
handler_slot!(
    set_revocation_handler,
    revocation_handler,
    REVOCATION,
    RevocationHandler
);
handler_slot!(
    set_repossession_handler,
    repossession_handler,
    REPOSSESSION,
    RepossessionHandler
);

/// The exception handler stored as `raw` by `exception::set_handler`.
pub(crate) fn exception_handler_from(raw: usize) -> Option<crate::exception::Handler> {
    match raw {
        0 => None,
        // SAFETY: `exception::set_handler` stores only `Handler` pointers.
        raw => Some(unsafe { core::mem::transmute::<usize, crate::exception::Handler>(raw) }),
    }
}

/// The LRPC procedure stored as `raw` by `lrpc::export`.
pub(crate) fn procedure_from(raw: usize) -> Option<crate::lrpc::Procedure> {
    match raw {
        0 => None,
        // SAFETY: `lrpc::export` stores only `Procedure` pointers.
        raw => Some(unsafe { core::mem::transmute::<usize, crate::lrpc::Procedure>(raw) }),
    }
}

/// Whether a protected-control-transfer handler is installed.
pub fn accepts_pct() -> bool {
    pct_handler().is_some()
}

/// Called by the entry with the upcall's kind, its frame and the registers
/// the entry saved.
#[unsafe(no_mangle)]
extern "C" fn exo_libos_upcall_dispatch(kind: u64, frame: &mut UpcallFrame, regs: &mut SavedRegs) {
    let a = frame.args;
    match UpcallKind::from_u64(kind) {
        Some(UpcallKind::Exception) => {
            let mut fault = Fault::new(frame, regs);
            exception::dispatch(&mut fault);
        }
        Some(UpcallKind::Pct) => {
            let sender = EnvId(a[0] as u32);
            let words = [a[1], a[2], a[3], a[4], a[5]];
            let call = a[6] == PCT_MODE_CALL;
            match pct_handler() {
                Some(h) => h(sender, words, call),
                None => crate::pct::refuse(sender, call),
            }
        }
        Some(UpcallKind::SliceEnd) => match slice_end_handler() {
            Some(h) => h(a[0]),
            None => crate::slice::on_slice_end(a[0]),
        },
        Some(UpcallKind::Revocation) => match revocation_handler() {
            Some(h) => h(a[0], a[1], a[2] != 0),
            None => crate::rt::on_revocation(a[0], a[1], a[2] != 0),
        },
        Some(UpcallKind::Repossession) => match repossession_handler() {
            Some(h) => h(a[0], a[1]),
            None => crate::rt::on_repossession(a[0], a[1]),
        },
        None => {}
    }
}

/// Address of the entry point to register with the kernel.
pub fn entry_point() -> u64 {
    exo_libos_upcall_entry as *const () as u64
}

unsafe extern "C" {
    fn exo_libos_upcall_entry();
}

core::arch::global_asm!(
    r#"
    .section .text.exo_libos_upcall, "ax"
    .global exo_libos_upcall_entry
    .p2align 4
exo_libos_upcall_entry:
    push %rcx
    push %r11
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rbx
    sub $512, %rsp
    and $-16, %rsp
    fxsave64 (%rsp)
    mov %rax, %rdi
    lea 64(%rbx), %rsi
    mov %rbx, %rdx
    call exo_libos_upcall_dispatch
    fxrstor64 (%rsp)
    mov %rbx, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    pop %r11
    pop %rcx

    .global exo_libos_resume
exo_libos_resume:
    mov {rsp}(%rsp), %rax
    sub $144, %rax
    mov {rflags}(%rsp), %rdi
    mov %rdi, (%rax)
    mov {rip}(%rsp), %rdi
    mov %rdi, 8(%rax)
    mov %rax, {kind}(%rsp)
    mov {rdi}(%rsp), %rdi
    mov {rsi}(%rsp), %rsi
    mov {rdx}(%rsp), %rdx
    mov {r10}(%rsp), %r10
    mov {r8}(%rsp), %r8
    mov {r9}(%rsp), %r9
    mov {rax}(%rsp), %rax
    mov {kind}(%rsp), %rsp
    popfq
    ret $128
    .text
"#,
    kind = const offsets::KIND,
    rip = const offsets::RIP,
    rsp = const offsets::RSP,
    rflags = const offsets::RFLAGS,
    rax = const offsets::RAX,
    rdi = const offsets::RDI,
    rsi = const offsets::RSI,
    rdx = const offsets::RDX,
    r10 = const offsets::R10,
    r8 = const offsets::R8,
    r9 = const offsets::R9,
    options(att_syntax)
);

const _: () = {
    // `ret $128` after `popfq` from `rsp - 144` lands on the interrupted rsp.
    assert!(exo_abi::upcall::RED_ZONE == 128);
    assert!(core::mem::size_of::<SavedRegs>() == 64);
};
