//! Counting results of every step (fmt, clippy, host tests, QEMU scenarios,
//! fuzz smoke runs) and printing the closing `N passed, M failed` line.

use std::time::Duration;

/// Result of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// All results so far.
#[derive(Default)]
pub struct Tally {
    entries: Vec<(String, Outcome)>,
}

impl Tally {
    /// Records and prints one result.
    pub fn record(&mut self, name: impl Into<String>, outcome: Outcome, took: Option<Duration>) {
        let name = name.into();
        let took = took
            .map(|d| format!(" ({:.2}s)", d.as_secs_f64()))
            .unwrap_or_default();
        match &outcome {
            Outcome::Passed => println!("PASS {name}{took}"),
            Outcome::Failed(why) => println!("FAIL {name}{took}: {why}"),
            Outcome::Skipped(why) => println!("SKIP {name}: {why}"),
        }
        self.entries.push((name, outcome));
    }

    /// Records `count` passed tests counted by another runner (libtest).
    pub fn record_counted(&mut self, group: &str, passed: usize, failed: usize, skipped: usize) {
        for i in 0..passed {
            self.entries.push((format!("{group}#{i}"), Outcome::Passed));
        }
        for i in 0..failed {
            self.entries.push((
                format!("{group}#failed{i}"),
                Outcome::Failed("see the cargo test output".into()),
            ));
        }
        for i in 0..skipped {
            self.entries.push((
                format!("{group}#ignored{i}"),
                Outcome::Skipped("ignored".into()),
            ));
        }
        println!("{group} (libtest): {passed} ok / {failed} failed / {skipped} ignored");
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.entries.iter().filter(|(_, o)| f(o)).count()
    }

    pub fn passed(&self) -> usize {
        self.count(|o| *o == Outcome::Passed)
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    /// Prints the failures and the closing line.
    pub fn finish(&self) {
        let failures: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
            .collect();
        if !failures.is_empty() {
            println!("\nfailures:");
            for (name, o) in failures {
                if let Outcome::Failed(why) = o {
                    println!("    {name}: {why}");
                }
            }
        }
        println!();
        let skipped = self.skipped();
        if skipped > 0 {
            println!(
                "{} passed, {} failed, {skipped} skipped",
                self.passed(),
                self.failed()
            );
        } else {
            println!("{} passed, {} failed", self.passed(), self.failed());
        }
    }
}
