//! Time: TSC-based monotonic clock and the periodic local-APIC timer.
//!
//! Both are calibrated against the PIT at boot. `now_ns` reads the TSC and
//! scales by the calibrated frequency; it returns 0 before calibration.

use core::sync::atomic::{AtomicU64, Ordering};

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
    apic::start_periodic(crate::arch::TIMER_VECTOR, TIMER_HZ, apic_hz);
    Ok(Frequencies {
        tsc_hz,
        apic_timer_hz: apic_hz,
        tick_hz: TIMER_HZ,
    })
}

fn on_tick(_vector: u8) {
    TICKS.fetch_add(1, Ordering::Relaxed);
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

/// Timer interrupts taken so far.
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
