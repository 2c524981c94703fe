//! Rust side of the entry stubs: routes exceptions to the crash reporter and
//! device interrupts to the kernel's IRQ table, then acknowledges the APIC.

use super::entry::TrapFrame;

/// Architectural names of the 32 exception vectors.
pub const EXCEPTION_NAMES: [(&str, &str); 32] = [
    ("#DE", "divide error"),
    ("#DB", "debug"),
    ("NMI", "non-maskable interrupt"),
    ("#BP", "breakpoint"),
    ("#OF", "overflow"),
    ("#BR", "bound range exceeded"),
    ("#UD", "invalid opcode"),
    ("#NM", "device not available"),
    ("#DF", "double fault"),
    ("#CSO", "coprocessor segment overrun"),
    ("#TS", "invalid TSS"),
    ("#NP", "segment not present"),
    ("#SS", "stack-segment fault"),
    ("#GP", "general protection fault"),
    ("#PF", "page fault"),
    ("#15", "reserved vector 15"),
    ("#MF", "x87 floating-point error"),
    ("#AC", "alignment check"),
    ("#MC", "machine check"),
    ("#XM", "SIMD floating-point exception"),
    ("#VE", "virtualization exception"),
    ("#CP", "control protection exception"),
    ("#22", "reserved vector 22"),
    ("#23", "reserved vector 23"),
    ("#24", "reserved vector 24"),
    ("#25", "reserved vector 25"),
    ("#26", "reserved vector 26"),
    ("#27", "reserved vector 27"),
    ("#HV", "hypervisor injection exception"),
    ("#VC", "VMM communication exception"),
    ("#SX", "security exception"),
    ("#31", "reserved vector 31"),
];

/// Vector of the APIC spurious interrupt (never acknowledged with EOI).
pub const SPURIOUS_VECTOR: u8 = 0xFF;

/// Called by the stubs for vectors 0-31. Every exception is unexpected in
/// this kernel so far (no ring-3 code runs yet): report and stop.
pub extern "C" fn exception_dispatch(frame: &mut TrapFrame) {
    crate::crash::exception(frame);
}

/// Called by the stubs for vectors 32-255 (interrupts are disabled).
pub extern "C" fn irq_dispatch(frame: &mut TrapFrame) {
    let vector = frame.vector as u8;
    if vector == SPURIOUS_VECTOR {
        return;
    }
    crate::irq::dispatch(vector);
    super::apic::end_of_interrupt();
}
