//! Time: TSC-based monotonic clock and the local-APIC timer.
//!
//! Both are calibrated against the PIT at boot. `now_ns` reads the TSC and
//! scales by the calibrated frequency; it returns 0 before calibration.
//!
//! The APIC timer runs in one-shot mode, always armed for the earlier of
//! the next periodic tick (`TIMER_HZ`, counted by [`ticks`]) and the kernel
//! alarm ([`set_alarm`]), which the scheduler uses for slice ends, handler
//! budgets and deadlines. When the alarm passes, [`alarm_fired`] turns true
//! until [`take_alarm`].

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::arch::{apic, cpu};

/// Frequency of the periodic timer interrupt.
pub const TIMER_HZ: u64 = 100;
/// PIT ticks per calibration window (about 10 ms).
const CALIBRATION_TICKS: u16 = 11_932;
/// Calibration runs; the median is kept.
const CALIBRATION_RUNS: usize = 3;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static APIC_HZ: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);
/// Clock time of the next periodic tick.
static NEXT_TICK_NS: AtomicU64 = AtomicU64::new(0);
/// Clock time of the kernel alarm (`u64::MAX`: none).
static ALARM_NS: AtomicU64 = AtomicU64::new(u64::MAX);
static ALARM_FIRED: AtomicBool = AtomicBool::new(false);
/// Nanoseconds between periodic ticks.
const TICK_NS: u64 = 1_000_000_000 / TIMER_HZ;

/// Errors while calibrating clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// The PIT never reached terminal count: no usable reference clock.
    NoPit,
    /// A calibration measured zero: the counter does not run.
    Stopped(&'static str),
    Irq(crate::irq::IrqError),
}

impl core::fmt::Display for TimeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoPit => write!(f, "the PIT did not count; cannot calibrate timers"),
            Self::Stopped(what) => write!(f, "the {what} does not advance"),
            Self::Irq(e) => write!(f, "timer interrupt: {e}"),
        }
    }
}

/// Calibrated frequencies.
#[derive(Clone, Copy, Debug)]
pub struct Frequencies {
    pub tsc_hz: u64,
    pub apic_timer_hz: u64,
    pub tick_hz: u64,
}

fn median(mut v: [u64; CALIBRATION_RUNS]) -> u64 {
    v.sort_unstable();
    v[CALIBRATION_RUNS / 2]
}

/// Calibrates the TSC and APIC timer (the APIC must be enabled) and starts
/// the periodic timer interrupt at `TIMER_HZ`.
pub fn init() -> Result<Frequencies, TimeError> {
    let mut tsc = [0; CALIBRATION_RUNS];
    let mut apic_hz = [0; CALIBRATION_RUNS];
    for i in 0..CALIBRATION_RUNS {
        let (a, t) = apic::calibrate(CALIBRATION_TICKS).ok_or(TimeError::NoPit)?;
        apic_hz[i] = a;
        tsc[i] = t;
    }
    let (tsc_hz, apic_hz) = (median(tsc), median(apic_hz));
    if tsc_hz == 0 {
        return Err(TimeError::Stopped("TSC"));
    }
    if apic_hz == 0 {
        return Err(TimeError::Stopped("local APIC timer"));
    }
    TSC_AT_BOOT.store(cpu::rdtsc(), Ordering::Relaxed);
    TSC_HZ.store(tsc_hz, Ordering::Relaxed);
    APIC_HZ.store(apic_hz, Ordering::Relaxed);
    crate::irq::register(crate::arch::TIMER_VECTOR, on_tick).map_err(TimeError::Irq)?;
    apic::configure_one_shot(crate::arch::TIMER_VECTOR);
    NEXT_TICK_NS.store(TICK_NS, Ordering::Relaxed);
    reprogram(now_ns());
    Ok(Frequencies {
        tsc_hz,
        apic_timer_hz: apic_hz,
        tick_hz: TIMER_HZ,
    })
}

fn on_tick(_vector: u8) {
    let now = now_ns();
    let mut next = NEXT_TICK_NS.load(Ordering::Relaxed);
    while next <= now {
        TICKS.fetch_add(1, Ordering::Relaxed);
        next += TICK_NS;
    }
    NEXT_TICK_NS.store(next, Ordering::Relaxed);
    if ALARM_NS.load(Ordering::Relaxed) <= now {
        ALARM_NS.store(u64::MAX, Ordering::Relaxed);
        ALARM_FIRED.store(true, Ordering::Release);
    }
    reprogram(now);
}

/// Arms the one-shot timer for the earlier of the next tick and the alarm.
fn reprogram(now: u64) {
    let next = NEXT_TICK_NS
        .load(Ordering::Relaxed)
        .min(ALARM_NS.load(Ordering::Relaxed));
    apic::arm_one_shot(next.saturating_sub(now), APIC_HZ.load(Ordering::Relaxed));
}

/// Sets the kernel alarm to clock time `deadline_ns` (replacing the
/// previous one; `u64::MAX` cancels it) and clears a fired alarm.
pub fn set_alarm(deadline_ns: u64) {
    ALARM_FIRED.store(false, Ordering::Relaxed);
    ALARM_NS.store(deadline_ns, Ordering::Relaxed);
    if APIC_HZ.load(Ordering::Relaxed) != 0 {
        reprogram(now_ns());
    }
}

/// Whether the alarm has passed since it was set (safe in interrupt context).
pub fn alarm_fired() -> bool {
    ALARM_FIRED.load(Ordering::Acquire)
}

/// Consumes a fired alarm.
pub fn take_alarm() -> bool {
    ALARM_FIRED.swap(false, Ordering::AcqRel)
}

/// Nanoseconds since calibration (monotonic; 0 before `init`).
pub fn now_ns() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return 0;
    }
    let delta = cpu::rdtsc().saturating_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    (u128::from(delta) * 1_000_000_000 / u128::from(hz)) as u64
}

/// Calibrated TSC frequency (0 before `init`).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// TSC value at clock zero.
pub fn tsc_at_boot() -> u64 {
    TSC_AT_BOOT.load(Ordering::Relaxed)
}

/// Periodic ticks (`TIMER_HZ`) so far.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

crate::kernel_test! {
    fn clock_is_monotonic() {
        let mut last = now_ns();
        for _ in 0..10_000 {
            let now = now_ns();
            ensure!(now >= last, "clock went back from {last} to {now}");
            last = now;
        }
        ensure!(last > 0, "clock does not run");
        Ok(())
    }
}

crate::kernel_test! {
    fn timer_ticks_agree_with_the_clock() {
        // Wait for 10 ticks (100 ms at 100 Hz) while idling with interrupts
        // on; the TSC clock must have advanced by roughly that much. Bounds
        // are loose (x0.5 .. x5) because this checks calibration, not speed.
        let start_ticks = ticks();
        let start = now_ns();
        let deadline = start + 5_000_000_000;
        while ticks() < start_ticks + 10 {
            crate::irq::idle();
            ensure!(now_ns() < deadline, "fewer than 10 timer ticks in 5 s: the timer does not fire");
        }
        let elapsed = now_ns() - start;
        let expected = 10 * 1_000_000_000 / TIMER_HZ;
        ensure!(
            elapsed >= expected / 2 && elapsed <= expected * 5,
            "10 ticks took {elapsed} ns by the TSC, expected about {expected} ns"
        );
        Ok(())
    }
}

crate::kernel_test! {
    fn alarm_fires_at_its_deadline() {
        let deadline = now_ns() + 3_000_000;
        set_alarm(deadline);
        let give_up = now_ns() + 5_000_000_000;
        while !alarm_fired() {
            crate::irq::idle();
            ensure!(now_ns() < give_up, "the alarm did not fire within 5 s");
        }
        let late = now_ns().saturating_sub(deadline);
        ensure!(now_ns() >= deadline, "the alarm fired early");
        ensure!(late < 1_000_000_000, "the alarm fired {late} ns late");
        ensure!(take_alarm(), "take_alarm lost the alarm");
        ensure!(!alarm_fired(), "take_alarm did not consume it");
        set_alarm(u64::MAX);
        Ok(())
    }
}
