//! x86-64 support: everything CPU specific lives below this module. The rest
//! of the kernel uses the small interface re-exported by `crate::arch`.

pub mod apic;
pub mod boot;
pub mod cpu;
pub mod entry;
pub mod gdt;
pub mod idt;
pub mod layout;
pub mod mem_intrinsics;
pub mod paging;
pub mod pci_config;
pub mod pit;
pub mod serial;
pub mod stack;
pub mod syscall;
pub mod trap;
mod trap_asm;
pub mod user;
pub mod user_space;

pub use entry::TrapFrame;

/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 0x20;
/// First vector handed out to device drivers (virtio-net etc.).
pub const FIRST_DEVICE_VECTOR: u8 = 0x21;
/// One past the last device vector.
pub const DEVICE_VECTOR_END: u8 = 0xF0;

/// Early CPU setup: serial console, GDT/TSS with IST stacks, IDT, the
/// `syscall` entry, alignment checking for ring 3 (CR0.AM). After this,
/// every exception in ring 0 produces a crash report.
pub fn early_init() {
    serial::init();
    gdt::init();
    idt::init();
    syscall::init();
    cpu::enable_user_alignment_checks();
}
