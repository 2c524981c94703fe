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
pub mod trap;

pub use entry::TrapFrame;

/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 0x20;
/// First vector handed out to device drivers (virtio-net etc.).
pub const FIRST_DEVICE_VECTOR: u8 = 0x21;
/// One past the last device vector.
pub const DEVICE_VECTOR_END: u8 = 0xF0;

/// Early CPU setup: serial console, GDT/TSS with IST stacks, IDT. After this,
/// every exception produces a crash report.
pub fn early_init() {
    serial::init();
    gdt::init();
    idt::init();
}
