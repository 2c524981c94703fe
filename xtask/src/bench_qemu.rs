//! What the benchmarks that boot the kernel in QEMU (`bench_kernel`,
//! `bench_net`) share: the release kernel they boot, the machine
//! configurations they compare, the repeated runs, the median over runs,
//! and where their results go (`bench/results/`).

use std::path::PathBuf;

use crate::error::{Result, io};
use crate::image::{self, BuildOptions, Flavor};
use crate::paths;

/// One machine configuration: a name for the reports, what its numbers
/// mean, and the QEMU arguments that make it.
pub struct Mode {
    pub name: &'static str,
    pub what: &'static str,
    pub extra: &'static [&'static str],
}

/// Builds the release kernel (normal flavor, ring-3 programs embedded);
/// returns its ELF.
pub fn release_kernel() -> Result<PathBuf> {
    let kernel = image::build(BuildOptions {
        release: true,
        flavor: Flavor::Normal,
    })?;
    Ok(kernel.elf)
}

/// Runs `once` `runs` times, printing `LABEL run I/RUNS` before each, and
/// returns the results in order; the first error ends the series.
pub fn repeat<T>(runs: usize, label: &str, mut once: impl FnMut() -> Result<T>) -> Result<Vec<T>> {
    let mut results = Vec::with_capacity(runs);
    for r in 0..runs {
        eprintln!("{label} run {}/{runs}", r + 1);
        results.push(once()?);
    }
    Ok(results)
}

/// The median of `v` (the upper one of an even count); `v` must not be
/// empty.
pub fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// `bench/results/`, created if missing.
pub fn results_dir() -> Result<PathBuf> {
    let dir = paths::root().join("bench").join("results");
    std::fs::create_dir_all(&dir).map_err(io("creating bench/results"))?;
    Ok(dir)
}

/// Writes `bench/results/STEM.json` and `STEM.md` and says so.
pub fn write_results(stem: &str, json: &str, md: &str) -> Result<()> {
    let dir = results_dir()?;
    for (ext, text) in [("json", json), ("md", md)] {
        let name = format!("{stem}.{ext}");
        std::fs::write(dir.join(&name), text).map_err(io(format!("writing {name}")))?;
    }
    println!("results: bench/results/{stem}.json, bench/results/{stem}.md");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_takes_the_middle_of_the_sorted_values() {
        assert_eq!(median(vec![5]), 5);
        assert_eq!(median(vec![9, 1, 5]), 5);
        assert_eq!(median(vec![4, 1, 3, 2]), 3);
    }

    #[test]
    fn repeat_runs_in_order_and_stops_at_the_first_error() {
        let mut n = 0;
        let ok = repeat(3, "test", || {
            n += 1;
            Ok(n)
        });
        assert_eq!(ok.ok(), Some(vec![1, 2, 3]));
        let mut calls = 0;
        let failed: Result<Vec<()>> = repeat(3, "test", || {
            calls += 1;
            if calls == 2 {
                Err(crate::error::Error::Other("second run failed".into()))
            } else {
                Ok(())
            }
        });
        assert!(failed.is_err());
        assert_eq!(calls, 2);
    }
}
