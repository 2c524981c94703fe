//! Small CPU primitives: control registers, interrupt flag, halting, TSC, and
//! leaving QEMU through the isa-debug-exit device.

use x86_64::PhysAddr;
use x86_64::instructions::port::Port;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr2, Cr3, Cr3Flags};
use x86_64::structures::paging::PhysFrame;

/// I/O port of QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
const DEBUG_EXIT_PORT: u16 = 0xF4;

/// Faulting linear address of the last page fault.
pub fn cr2() -> u64 {
    Cr2::read_raw()
}

/// Physical address of the active top-level page table.
pub fn cr3() -> u64 {
    Cr3::read().0.start_address().as_u64()
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; CR4.TSD is clear in ring 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Current frame pointer (RBP) of the caller's frame chain.
#[inline(always)]
pub fn frame_pointer() -> u64 {
    let rbp: u64;
    // SAFETY: copies RBP into a register; no memory access.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags))
    };
    rbp
}

/// Stops the CPU for good: interrupts off, `hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Takes pending interrupts once: `sti; hlt; cli`. Returns after the next
/// interrupt has been handled. `sti` delays interrupts by one instruction, so
/// no interrupt can slip in between `sti` and `hlt` and be missed.
pub fn idle_once() {
    // SAFETY: all interrupt vectors use IST stacks, so an interrupt arriving in
    // ring 0 never touches the current stack (or its red zone); interrupts are
    // disabled again before returning.
    unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Takes interrupts that are already pending, without halting.
pub fn poll_interrupts() {
    // SAFETY: as in `idle_once`; `nop` gives the one-instruction window after
    // `sti` in which pending interrupts are delivered.
    unsafe { core::arch::asm!("sti", "nop", "cli", options(nomem, nostack)) };
}

/// Whether interrupts are enabled (RFLAGS.IF).
pub fn interrupts_enabled() -> bool {
    x86_64::instructions::interrupts::are_enabled()
}

/// Writes `code` to isa-debug-exit: QEMU exits with status `(code << 1) | 1`.
/// Without the device (e.g. a real machine) this returns and the caller halts.
pub fn qemu_exit(code: u32) {
    let mut port = Port::<u32>::new(DEBUG_EXIT_PORT);
    // SAFETY: writing the debug-exit port only ends the emulator; on machines
    // without the device the write goes nowhere.
    unsafe { port.write(code) }
}

/// Switches to the address space whose PML4 is at `pml4_phys` (no-op if it
/// is already active).
///
/// # Safety
/// The tables must map the kernel half exactly like the kernel's own (the
/// code, stack and data in use stay reachable).
pub unsafe fn switch_address_space(pml4_phys: u64) {
    if cr3() == pml4_phys {
        return;
    }
    let frame = PhysFrame::containing_address(PhysAddr::new(pml4_phys));
    // SAFETY: guaranteed by the caller.
    unsafe { Cr3::write(frame, Cr3Flags::empty()) };
}

/// Flushes the TLB entry of one virtual page in the active address space.
pub fn flush_page(virt: u64) {
    x86_64::instructions::tlb::flush(x86_64::VirtAddr::new_truncate(virt));
}

/// Sets CR0.AM: ring-3 code that sets RFLAGS.AC gets #AC on misaligned
/// accesses (ring 0 is unaffected).
pub fn enable_user_alignment_checks() {
    // SAFETY: AM only enables alignment checking at CPL 3 when the program
    // asks for it with RFLAGS.AC.
    unsafe { Cr0::update(|f| f.insert(Cr0Flags::ALIGNMENT_MASK)) };
}
