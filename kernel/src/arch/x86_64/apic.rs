//! Local APIC (xAPIC, memory mapped) and the legacy 8259 PICs, which are
//! remapped away from the exception vectors and masked.
//!
//! The APIC register page is reached through the kernel's direct map, mapped
//! uncached by `paging.rs`.

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

use super::pit;

const IA32_APIC_BASE: u32 = 0x1B;
const APIC_BASE_ENABLE: u64 = 1 << 11;

const REG_ID: usize = 0x20;
const REG_VERSION: usize = 0x30;
const REG_TPR: usize = 0x80;
const REG_EOI: usize = 0xB0;
const REG_SVR: usize = 0xF0;
const REG_LVT_TIMER: usize = 0x320;
const REG_LVT_LINT0: usize = 0x350;
const REG_LVT_LINT1: usize = 0x360;
const REG_LVT_ERROR: usize = 0x370;
const REG_TIMER_INITIAL: usize = 0x380;
const REG_TIMER_CURRENT: usize = 0x390;
const REG_TIMER_DIVIDE: usize = 0x3E0;

const LVT_MASKED: u32 = 1 << 16;
const SVR_APIC_ENABLE: u32 = 1 << 8;
/// Divide configuration value for "divide by 16".
const DIVIDE_BY_16: u32 = 0b0011;
const DIVISOR: u64 = 16;

/// Virtual address of the APIC register page (0 until `init`).
static APIC_BASE: AtomicU64 = AtomicU64::new(0);

/// Physical address of the local APIC registers (from IA32_APIC_BASE).
pub fn physical_base() -> u64 {
    // SAFETY: IA32_APIC_BASE exists on every x86-64 CPU with an APIC, which
    // the boot stub requires implicitly (long mode CPUs all have one).
    let value = unsafe { Msr::new(IA32_APIC_BASE).read() };
    value & 0x000F_FFFF_FFFF_F000
}

fn read(reg: usize) -> u32 {
    let base = APIC_BASE.load(Ordering::Relaxed);
    assert!(base != 0, "local APIC used before apic::init");
    // SAFETY: `base` maps the 4 KiB APIC register page (set in `init`) and
    // `reg` is one of the aligned register offsets above.
    unsafe { core::ptr::read_volatile((base as usize + reg) as *const u32) }
}

fn write(reg: usize, value: u32) {
    let base = APIC_BASE.load(Ordering::Relaxed);
    assert!(base != 0, "local APIC used before apic::init");
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((base as usize + reg) as *mut u32, value) }
}

/// Remaps the two 8259 PICs to vectors 0x20-0x2F and masks every line, so
/// that neither real nor spurious PIC interrupts land on exception vectors.
fn disable_legacy_pic() {
    let writes: [(u16, u8); 10] = [
        (0x20, 0x11),
        (0xA0, 0x11),
        (0x21, 0x20),
        (0xA1, 0x28),
        (0x21, 0x04),
        (0xA1, 0x02),
        (0x21, 0x01),
        (0xA1, 0x01),
        (0x21, 0xFF),
        (0xA1, 0xFF),
    ];
    for (port, value) in writes {
        // SAFETY: standard 8259 initialization sequence on its fixed ports.
        unsafe { Port::<u8>::new(port).write(value) };
    }
}

/// Enables the local APIC at `virt_base` (the register page as mapped by the
/// kernel) with all local interrupts masked.
pub fn init(virt_base: u64, spurious_vector: u8) {
    disable_legacy_pic();
    // SAFETY: setting the global-enable bit of IA32_APIC_BASE keeps the base
    // address unchanged.
    unsafe {
        let mut msr = Msr::new(IA32_APIC_BASE);
        let value = msr.read();
        msr.write(value | APIC_BASE_ENABLE);
    }
    APIC_BASE.store(virt_base, Ordering::Relaxed);
    write(REG_TPR, 0);
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_LINT1, LVT_MASKED);
    write(REG_LVT_ERROR, LVT_MASKED);
    write(REG_SVR, SVR_APIC_ENABLE | u32::from(spurious_vector));
}

/// APIC ID and version register.
pub fn id_and_version() -> (u32, u32) {
    (read(REG_ID) >> 24, read(REG_VERSION) & 0xFF)
}

/// Measures the APIC timer's input frequency (bus clock, before the divider)
/// and the TSC frequency against `ticks` PIT periods. Returns `(apic_hz,
/// tsc_hz)`, or `None` if the PIT did not run.
pub fn calibrate(ticks: u16) -> Option<(u64, u64)> {
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_MASKED);
    let mut tsc_start = 0;
    let mut tsc_end = 0;
    let mut remaining = 0;
    let ok = pit::measure(
        ticks,
        || {
            write(REG_TIMER_INITIAL, u32::MAX);
            tsc_start = super::cpu::rdtsc();
        },
        || {
            remaining = read(REG_TIMER_CURRENT);
            tsc_end = super::cpu::rdtsc();
        },
    );
    write(REG_TIMER_INITIAL, 0);
    if !ok {
        return None;
    }
    let elapsed_apic = u64::from(u32::MAX - remaining) * DIVISOR;
    let scale = |count: u64| count * pit::PIT_HZ / u64::from(ticks);
    Some((scale(elapsed_apic), scale(tsc_end - tsc_start)))
}

/// Puts the APIC timer in one-shot mode on `vector` (stopped until
/// [`arm_one_shot`]).
pub fn configure_one_shot(vector: u8) {
    write(REG_TIMER_INITIAL, 0);
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, u32::from(vector));
}

/// Fires the one-shot timer `ns` nanoseconds from now (at least one timer
/// count, at most `u32::MAX` counts), given the calibrated input frequency.
pub fn arm_one_shot(ns: u64, apic_hz: u64) {
    let count = u128::from(ns) * u128::from(apic_hz) / u128::from(DIVISOR) / 1_000_000_000;
    write(
        REG_TIMER_INITIAL,
        count.clamp(1, u128::from(u32::MAX)) as u32,
    );
}

/// Stops the APIC timer.
pub fn stop_timer() {
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_TIMER_INITIAL, 0);
}

/// Signals end of interrupt to the local APIC.
pub fn end_of_interrupt() {
    write(REG_EOI, 0);
}
