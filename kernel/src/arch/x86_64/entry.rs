//! Interrupt and exception entry stubs (`global_asm!`) and the saved
//! register frame they hand to Rust.
//!
//! Each of the 256 vectors has a small stub that pushes a zero error code
//! (for vectors where the CPU pushes none), then the vector number, and jumps
//! to a common path. The common path saves all general-purpose registers
//! (forming a [`TrapFrame`]), saves the FPU/SSE state with `fxsave64` (the
//! prebuilt `core` uses SSE everywhere, so any Rust handler may clobber it),
//! loads the kernel's MXCSR (an environment may have unmasked SSE
//! exceptions), calls the Rust dispatcher with the frame and the FPU image,
//! and restores everything before `iretq`. Vectors 0-31 go to
//! [`super::trap::exception_dispatch`], 32-255 to
//! [`super::trap::irq_dispatch`].
//!
//! Lazy FPU: while an environment that asked for it runs, CR0.TS is set so
//! its first x87/SSE instruction raises #NM. `EXO_USER_TS` says so; the
//! stubs then clear TS before `fxsave64` (which would fault) and set it
//! again before returning to ring 3. In kernel code the flag is always 0.

/// Registers saved on entry, in stack order (lowest address first).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TrapFrame {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    /// Vector number pushed by the stub.
    pub vector: u64,
    /// Error code pushed by the CPU, or 0 pushed by the stub.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// Whether the CPU pushes an error code for `vector`.
pub const fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

use super::trap_asm::{call_with_frame, pop_registers, push_registers};

unsafe extern "C" {
    /// Addresses of the 256 entry stubs, indexed by vector (defined below).
    static exo_vector_stubs: [u64; 256];
}

/// Address of the entry stub of `vector`.
pub fn stub_address(vector: u8) -> u64 {
    // SAFETY: `exo_vector_stubs` is an immutable 256-entry table in .rodata
    // emitted by the assembly below.
    unsafe { exo_vector_stubs[usize::from(vector)] }
}

core::arch::global_asm!(
    concat!(
        r#"
    .macro exo_vector_stub v
    .p2align 4
exo_vector_stub_\v:
    .if (\v == 8) + ((\v >= 10) * (\v <= 14)) + (\v == 17) + (\v == 21) + (\v == 29) + (\v == 30)
    .else
    pushq $0
    .endif
    pushq $\v
    .if \v < 32
    jmp exo_exception_common
    .else
    jmp exo_irq_common
    .endif
    .endm

    .macro exo_trap_common name, dispatch
    .p2align 4
\name:
"#,
        push_registers!(),
        call_with_frame!("\\dispatch"),
        pop_registers!(),
        r#"
    iretq
    .endm

    .section .text.exo_entry, "ax"
    exo_trap_common exo_exception_common, {exception}
    exo_trap_common exo_irq_common, {irq}

    .irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255
    exo_vector_stub \v
    .endr

    .section .rodata.exo_vector_stubs, "a"
    .p2align 3
    .global exo_vector_stubs
exo_vector_stubs:
    .irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255
    .quad exo_vector_stub_\v
    .endr
    .text
"#
    ),
    exception = sym super::trap::exception_dispatch,
    irq = sym super::trap::irq_dispatch,
    user_ts = sym super::user::EXO_USER_TS,
    mxcsr = sym super::user::EXO_KERNEL_MXCSR,
    options(att_syntax)
);
