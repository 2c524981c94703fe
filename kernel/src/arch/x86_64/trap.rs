//! Rust side of the entry stubs: routes exceptions from ring 3 to the
//! environment layer and those from ring 0 to the crash reporter, device
//! interrupts to the kernel's IRQ table (then acknowledges the APIC), and
//! hands control to the kernel loop when an interrupt from ring 3 leaves it
//! work to do.

use super::entry::TrapFrame;
use super::user::{ExitReason, FxArea, save_and_exit};

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

/// What the kernel decided about an exception taken in ring 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserTrap {
    /// The frame was redirected (e.g. to the environment's own handler):
    /// return to ring 3 with it.
    Resume,
    /// The environment cannot go on: save its state and return to the
    /// kernel loop, which ends it.
    ToKernel,
}

/// Whether a frame was pushed by a trap from ring 3.
pub fn from_user(frame: &TrapFrame) -> bool {
    frame.cs & 3 == 3
}

/// Called by the stubs for vectors 0-31. An exception in ring 3 belongs to
/// the environment (except NMI, #DF and #MC, which are the machine's);
/// any exception in ring 0 is a kernel bug: report and stop.
pub extern "C" fn exception_dispatch(frame: &mut TrapFrame, fx: &mut FxArea) {
    if from_user(frame) && !matches!(frame.vector, 2 | 8 | 18) {
        match crate::env::exception::from_user(frame) {
            UserTrap::Resume => return,
            UserTrap::ToKernel => save_and_exit(frame, fx, ExitReason::Fault),
        }
    }
    crate::crash::exception(frame);
}

/// Called by the stubs for vectors 32-255 (interrupts are disabled). After
/// an interrupt from ring 3, control goes to the kernel loop if the
/// scheduler has work (end of slice, a deadline, deferred work, a wake-up);
/// otherwise the environment simply continues.
pub extern "C" fn irq_dispatch(frame: &mut TrapFrame, fx: &mut FxArea) {
    let vector = frame.vector as u8;
    if vector == SPURIOUS_VECTOR {
        return;
    }
    crate::irq::dispatch(vector);
    super::apic::end_of_interrupt();
    if from_user(frame) && crate::sched::kernel_work_pending() {
        save_and_exit(frame, fx, ExitReason::Interrupt);
    }
}
