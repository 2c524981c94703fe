//! Summary statistics of repeated measurements.

/// Minimum and median of a set of measurements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
}

impl Summary {
    /// Summarises `samples` (at least one).
    pub fn of(samples: &[f64]) -> Summary {
        let mut v = samples.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Summary { min: v[0], median }
    }
}

/// Pins the calling thread to the CPU it is running on, so that samples
/// (and the kernel's test runs, which execute on the calling CPU) are not
/// spread over CPUs by migrations. Returns the CPU, or `None` if refused.
pub fn pin_to_current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    let cpu = usize::try_from(cpu).ok()?;
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and
    // sched_setaffinity only touch the set we own.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    ok.then_some(cpu)
}

/// Iterations of `f` so that one timed run lasts about `target_ms`
/// (from growing trial batches).
pub fn calibrate(target_ms: f64, mut f: impl FnMut()) -> u64 {
    let mut n = 1u64;
    loop {
        let t = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if ms >= target_ms / 8.0 || n >= 1 << 26 {
            return ((n as f64 * target_ms / ms.max(1e-6)) as u64).clamp(1, 1 << 28);
        }
        n *= 4;
    }
}

/// Times `f` over `iters` calls, `runs` times; returns ns per call of each run.
pub fn time_per_call(runs: usize, iters: u64, mut f: impl FnMut()) -> Vec<f64> {
    // Warm-up: caches, branch predictors, page faults.
    for _ in 0..iters.min(10_000) {
        f();
    }
    (0..runs)
        .map(|_| {
            let t = std::time::Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_and_median() {
        assert_eq!(
            Summary::of(&[3.0, 1.0, 2.0]),
            Summary {
                min: 1.0,
                median: 2.0
            }
        );
        assert_eq!(
            Summary::of(&[4.0, 1.0, 2.0, 3.0]),
            Summary {
                min: 1.0,
                median: 2.5
            }
        );
    }
}
