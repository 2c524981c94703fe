//! The assembly the interrupt/exception stubs (`entry.rs`) and the
//! `syscall` entry (`syscall.rs`) share, as string macros spliced into
//! their `global_asm!` templates with `concat!`: both build the same
//! [`super::entry::TrapFrame`] and enter Rust the same way, so the frame
//! layout and the FPU handling cannot drift apart between them.
//!
//! `user.rs` uses [`pop_registers`] too, to enter ring 3 from a saved
//! context. The templates that use the FPU macro must bind the operands `user_ts`
//! (`user::EXO_USER_TS`) and `mxcsr` (`user::EXO_KERNEL_MXCSR`).

/// Pushes the fifteen general registers: with the vector and error code
/// (or their stand-ins) and the `iretq` frame already on the stack, `rsp`
/// then points to a complete `TrapFrame`.
macro_rules! push_registers {
    () => {
        "
    push %r15
    push %r14
    push %r13
    push %r12
    push %r11
    push %r10
    push %r9
    push %r8
    push %rbp
    push %rdi
    push %rsi
    push %rdx
    push %rcx
    push %rbx
    push %rax
"
    };
}

/// With `rsp` at a `TrapFrame`: saves the x87/SSE state below it (clearing
/// CR0.TS first while a lazy-FPU environment runs), loads the kernel's
/// MXCSR, calls `$dispatch(frame, fx)` (SysV: `rdi`, `rsi`) with DF clear,
/// restores the FPU state (setting TS again for a lazy-FPU environment) and
/// leaves `rsp` at the frame. `r12` (callee-saved) keeps the frame's
/// address across the call.
macro_rules! call_with_frame {
    ($dispatch:literal) => {
        concat!(
            "
    mov %rsp, %r12
    sub $512, %rsp
    and $~15, %rsp
    cmpb $0, {user_ts}(%rip)
    je 1f
    clts
1:
    fxsave64 (%rsp)
    ldmxcsr {mxcsr}(%rip)
    mov %r12, %rdi
    mov %rsp, %rsi
    cld
    call ",
            $dispatch,
            "
    fxrstor64 (%rsp)
    cmpb $0, {user_ts}(%rip)
    je 2f
    mov %cr0, %rax
    or $8, %rax
    mov %rax, %cr0
2:
    mov %r12, %rsp
"
        )
    };
}

/// Pops the fifteen general registers and skips the vector and error code:
/// `rsp` then points to the `iretq` frame.
macro_rules! pop_registers {
    () => {
        "
    pop %rax
    pop %rbx
    pop %rcx
    pop %rdx
    pop %rsi
    pop %rdi
    pop %rbp
    pop %r8
    pop %r9
    pop %r10
    pop %r11
    pop %r12
    pop %r13
    pop %r14
    pop %r15
    add $16, %rsp
"
    };
}

pub(super) use {call_with_frame, pop_registers, push_registers};
