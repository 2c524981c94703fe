//! Boot entry: Multiboot1/Multiboot2 headers, the 32-bit entry point and the
//! switch to long mode.
//!
//! Both loaders enter `_start32` in 32-bit protected mode with paging off, EAX
//! holding the loader magic and EBX the physical address of the boot
//! information. The stub zeroes `.bss`, checks for long mode and NX, builds
//! the boot page tables (identity and direct map of the first 4 GiB with 2 MiB
//! pages, plus the kernel image at `KERNEL_BASE`), enables PAE, SSE
//! (CR4.OSFXSR|OSXMMEXCPT, CR0.MP, !CR0.EM), EFER.LME|NXE, paging with CR0.WP,
//! and jumps to 64-bit code in the higher half, which calls
//! `crate::boot_entry(magic, info_phys)` on the boot stack.
//!
//! The kernel replaces these page tables with its own in `mm::init` and drops
//! the identity map.

use super::stack::GuardedStack;

/// Size of the boot (kernel main) stack, without its guard page.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;

/// The stack the kernel runs on from `_start64_high` onward. Its guard page is
/// left unmapped by the kernel page tables.
pub static BOOT_STACK: GuardedStack<BOOT_STACK_SIZE> = GuardedStack::new();

core::arch::global_asm!(
    r#"
    .set MB1_MAGIC, 0x1BADB002
    .set MB1_FLAGS, (1 << 1) | (1 << 16)
    .set MB2_MAGIC, 0xE85250D6
    .set KERNEL_BASE_ASM, 0xFFFFFFFF80000000

    .section .boot.header, "a"
    .p2align 3
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
    .long mb1_header
    .long __image_phys_start
    .long __load_end_phys
    .long __bss_end_phys
    .long _start32

    .p2align 3
mb2_header:
    .long MB2_MAGIC
    .long 0
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + (mb2_header_end - mb2_header))
    .p2align 3
    .short 2, 0
    .long 24
    .long mb2_header
    .long __image_phys_start
    .long __load_end_phys
    .long __bss_end_phys
    .p2align 3
    .short 3, 0
    .long 12
    .long _start32
    .p2align 3
    .short 0, 0
    .long 8
mb2_header_end:

    .section .boot.rodata, "a"
    .p2align 4
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
boot_fail_msg:
    .asciz "exo: this CPU lacks long mode or NX; cannot boot\n"

    .section .boot.text, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    mov %eax, %ebp
    mov %ebx, %esi

    mov $__bss_start_phys, %edi
    mov $__bss_end_phys, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb 9f
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz 9f
    test $(1 << 20), %edx
    jz 9f

    mov $(boot_pml4 - KERNEL_BASE_ASM), %edi
    mov $(boot_pdpt_low - KERNEL_BASE_ASM + 3), %eax
    mov %eax, (%edi)
    mov %eax, (256 * 8)(%edi)
    mov $(boot_pdpt_high - KERNEL_BASE_ASM + 3), %eax
    mov %eax, (511 * 8)(%edi)

    mov $(boot_pdpt_low - KERNEL_BASE_ASM), %edi
    mov $(boot_pd - KERNEL_BASE_ASM + 3), %eax
    mov $4, %ecx
1:
    mov %eax, (%edi)
    add $4096, %eax
    add $8, %edi
    loop 1b

    mov $(boot_pd - KERNEL_BASE_ASM + 3), %eax
    mov %eax, (boot_pdpt_high - KERNEL_BASE_ASM + 510 * 8)

    mov $(boot_pd - KERNEL_BASE_ASM), %edi
    xor %ecx, %ecx
2:
    mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, (%edi, %ecx, 8)
    mov %ecx, %edx
    shr $11, %edx
    mov %edx, 4(%edi, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 2b

    mov %cr4, %eax
    or $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    mov %eax, %cr4

    mov $(boot_pml4 - KERNEL_BASE_ASM), %eax
    mov %eax, %cr3

    mov $0xC0000080, %ecx
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax
    wrmsr

    mov %cr0, %eax
    and $~(1 << 2), %eax
    or $((1 << 31) | (1 << 16) | (1 << 1)), %eax
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $_start64_low

9:
    mov $boot_fail_msg, %esi
3:
    movb (%esi), %al
    test %al, %al
    jz 5f
    mov $0x3FD, %dx
4:
    inb %dx, %al
    test $0x20, %al
    jz 4b
    movb (%esi), %al
    mov $0x3F8, %dx
    outb %al, %dx
    inc %esi
    jmp 3b
5:
    hlt
    jmp 5b

    .code64
_start64_low:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $_start64_high, %rax
    jmp *%rax

    .section .text._start64_high, "ax"
    .type _start64_high, @function
_start64_high:
    movabs ${stack} + {stack_top}, %rsp
    mov %ebp, %edi
    mov %esi, %esi
    xor %ebp, %ebp
    call {entry}
    ud2
    .size _start64_high, . - _start64_high

    .section .bss.boot_page_tables, "aw", @nobits
    .p2align 12
boot_pml4:
    .skip 4096
boot_pdpt_low:
    .skip 4096
boot_pdpt_high:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    .text
"#,
    stack = sym BOOT_STACK,
    stack_top = const GuardedStack::<BOOT_STACK_SIZE>::TOP_OFFSET,
    entry = sym crate::boot_entry,
    options(att_syntax)
);
