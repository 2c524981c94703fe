//! Arrival-to-transmit latency of handler replies: for each handler run
//! whose first `send_frame` succeeded, the time from the frame's arrival
//! (the RX interrupt, or the poll that found it) to the moment the reply
//! was handed to the device, in TSC-derived nanoseconds and in raw TSC
//! cycles. Under QEMU `-icount shift=0` both advance one per guest
//! instruction, so the numbers are instruction counts.

use alloc::vec::Vec;
use core::fmt;

use spin::Mutex;

/// Samples kept (the most recent ones).
pub const CAPACITY: usize = 4096;

/// When a frame arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arrival {
    pub ns: u64,
    pub tsc: u64,
}

impl Arrival {
    /// Now.
    pub fn now() -> Arrival {
        Arrival {
            ns: crate::time::now_ns(),
            tsc: crate::arch::cpu::rdtsc(),
        }
    }
}

struct Samples {
    ns: Vec<u64>,
    cycles: Vec<u64>,
    next: usize,
    total: u64,
}

static SAMPLES: Mutex<Samples> = Mutex::new(Samples {
    ns: Vec::new(),
    cycles: Vec::new(),
    next: 0,
    total: 0,
});

/// Records one reply sent now for a frame that arrived at `a`.
pub fn record(a: Arrival) {
    let now = Arrival::now();
    let (ns, cycles) = (now.ns.saturating_sub(a.ns), now.tsc.saturating_sub(a.tsc));
    let mut s = SAMPLES.lock();
    if s.ns.len() < CAPACITY {
        s.ns.push(ns);
        s.cycles.push(cycles);
    } else {
        let i = s.next;
        s.ns[i] = ns;
        s.cycles[i] = cycles;
    }
    s.next = (s.next + 1) % CAPACITY;
    s.total += 1;
}

/// Forgets every sample.
pub fn reset() {
    let mut s = SAMPLES.lock();
    s.ns.clear();
    s.cycles.clear();
    s.next = 0;
    s.total = 0;
}

/// Minimum, median and maximum of one quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spread {
    pub min: u64,
    pub median: u64,
    pub max: u64,
}

fn spread(v: &[u64]) -> Spread {
    let mut v = v.to_vec();
    v.sort_unstable();
    match (v.first(), v.last()) {
        (Some(&min), Some(&max)) => Spread {
            min,
            median: v[v.len() / 2],
            max,
        },
        _ => Spread::default(),
    }
}

/// What was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Replies recorded since the last reset (samples beyond
    /// [`CAPACITY`] overwrite the oldest).
    pub count: u64,
    pub ns: Spread,
    pub cycles: Spread,
}

pub fn summary() -> Summary {
    let s = SAMPLES.lock();
    Summary {
        count: s.total,
        ns: spread(&s.ns),
        cycles: spread(&s.cycles),
    }
}

/// The `NETLAT` line the benchmark parses.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NETLAT count={} ns_min={} ns_median={} ns_max={} cycles_min={} cycles_median={} cycles_max={}",
            self.count,
            self.ns.min,
            self.ns.median,
            self.ns.max,
            self.cycles.min,
            self.cycles.median,
            self.cycles.max
        )
    }
}
