//! The interrupt descriptor table: one gate per vector, all 256 pointing at
//! the entry stubs of `entry.rs`, each with its IST stack.

use core::cell::UnsafeCell;

use x86_64::VirtAddr;
use x86_64::instructions::tables::lidt;
use x86_64::structures::DescriptorTablePointer;

use super::entry::stub_address;
use super::gdt::{IST_DOUBLE_FAULT, IST_EXCEPTION, IST_IRQ, IST_MACHINE_CHECK, IST_NMI};

/// Vector of the page-fault exception.
pub const VECTOR_PAGE_FAULT: u8 = 14;

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// Present, DPL 0, 64-bit interrupt gate (clears IF on entry).
const INTERRUPT_GATE: u8 = 0x8E;
/// The same with DPL 3: `int3` and `into` in ring 3 reach their vectors
/// (#BP, #OF) instead of raising #GP. Every other vector stays DPL 0, so a
/// ring-3 `int n` cannot fake a device interrupt.
const USER_INTERRUPT_GATE: u8 = 0xEE;

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    fn new(handler: u64, selector: u16, ist: u16, type_attr: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector,
            ist: ist as u8,
            type_attr,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; 256]>);

// SAFETY: single CPU; the table is written in `init` (and by the test-only
// `set_page_fault_ist`) with interrupts disabled.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new([Gate::MISSING; 256]));

/// IST slot used by `vector`.
fn ist_for(vector: u8) -> u16 {
    match vector {
        2 => IST_NMI,
        8 => IST_DOUBLE_FAULT,
        18 => IST_MACHINE_CHECK,
        0..=31 => IST_EXCEPTION,
        _ => IST_IRQ,
    }
}

/// Fills and loads the IDT.
pub fn init() {
    let cs = super::gdt::selectors().kernel_code.0;
    // SAFETY: runs once during early boot with interrupts disabled; no gate
    // is in use while the table is written.
    let gates = unsafe { &mut *IDT.0.get() };
    for (vector, gate) in gates.iter_mut().enumerate() {
        let vector = vector as u8;
        let kind = match vector {
            3 | 4 => USER_INTERRUPT_GATE,
            _ => INTERRUPT_GATE,
        };
        *gate = Gate::new(stub_address(vector), cs, ist_for(vector), kind);
    }
    let pointer = DescriptorTablePointer {
        limit: (core::mem::size_of::<[Gate; 256]>() - 1) as u16,
        base: VirtAddr::from_ptr(IDT.0.get()),
    };
    // SAFETY: the IDT is a static with valid gates for all 256 vectors.
    unsafe { lidt(&pointer) };
}

/// Test hook: loads an empty IDT and raises `#BP`. The CPU cannot deliver
/// it, nor the resulting #GP, nor the #DF: it triple-faults and resets
/// (QEMU with `-no-reboot` exits with status 0).
#[cfg(feature = "qemu-tests")]
pub fn triple_fault() -> ! {
    let empty = DescriptorTablePointer {
        limit: 0,
        base: VirtAddr::new(0),
    };
    // SAFETY: deliberately not safe: this must bring the machine down. No
    // memory is touched; nothing runs after the reset.
    unsafe {
        lidt(&empty);
        core::arch::asm!("int3", options(nomem, nostack));
    }
    super::cpu::halt_forever()
}

/// Test hook: makes the page-fault gate use the current stack (`false`)
/// instead of its IST stack. A kernel-stack overflow then faults again while
/// the CPU pushes the page-fault frame, which the CPU turns into a double
/// fault: this is how the double-fault crash test provokes one.
#[cfg(feature = "qemu-tests")]
pub fn set_page_fault_ist(enabled: bool) {
    x86_64::instructions::interrupts::disable();
    // SAFETY: interrupts are disabled and we are not inside a page-fault
    // handler, so the gate is not being used while it changes.
    let gates = unsafe { &mut *IDT.0.get() };
    gates[usize::from(VECTOR_PAGE_FAULT)].ist = if enabled { IST_EXCEPTION as u8 } else { 0 };
}
