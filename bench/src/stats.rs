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
