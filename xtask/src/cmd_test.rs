//! `cargo xtask test`: every check of the project, one result each, ending
//! with `N passed, M failed` and a non-zero exit on any failure.
//!
//! Order: host steps (fmt, clippy, host tests), bare-metal builds, QEMU
//! scenarios, fuzz smoke runs. To add a host step, add a line to
//! `host_steps`; to add a QEMU scenario, see `scenarios.rs`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::image::{self, BuildOptions, Flavor};
use crate::process::describe;
use crate::scenario::{self, Images};
use crate::tally::{Outcome, Tally};
use crate::{fuzz, iso, paths, scenarios, tools};

/// How a host step reports.
enum Report {
    /// One result: passed iff the command exits 0.
    ExitStatus,
    /// libtest output: one result per test, from the `test result:` lines.
    Libtest,
}

/// A host-side command counted as test(s).
struct HostStep {
    name: &'static str,
    command: Command,
    report: Report,
}

fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(paths::root()).args(args);
    c
}

/// The host steps, in order.
fn host_steps() -> Vec<HostStep> {
    vec![
        HostStep {
            name: "fmt",
            command: cargo(&["fmt", "--all", "--", "--check"]),
            report: Report::ExitStatus,
        },
        HostStep {
            name: "clippy-host",
            command: cargo(&["clippy", "--all-targets", "--", "-D", "warnings"]),
            report: Report::ExitStatus,
        },
        HostStep {
            name: "clippy-bare-metal",
            command: image::clippy_command(false),
            report: Report::ExitStatus,
        },
        HostStep {
            name: "clippy-bare-metal-tests",
            command: image::clippy_command(true),
            report: Report::ExitStatus,
        },
        HostStep {
            name: "host-tests",
            command: cargo(&["test", "--no-fail-fast"]),
            report: Report::Libtest,
        },
    ]
}

/// Counts from one libtest `test result:` line: (passed, failed, ignored).
pub fn parse_libtest_result(line: &str) -> Option<(usize, usize, usize)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let num = |key: &str| -> Option<usize> {
        rest.split([';', '.']).find_map(|part| {
            part.trim()
                .strip_suffix(key)
                .and_then(|n| n.trim().parse().ok())
        })
    };
    Some((
        num(" passed")?,
        num(" failed")?,
        num(" ignored").unwrap_or(0),
    ))
}

fn run_host_step(mut step: HostStep, tally: &mut Tally) -> Result<()> {
    let label = format!("host::{}", step.name);
    eprintln!("xtask: $ {}", describe(&step.command));
    let start = Instant::now();
    match step.report {
        Report::ExitStatus => {
            let ok = crate::process::status(&mut step.command)?.success();
            let o = if ok {
                Outcome::Passed
            } else {
                Outcome::Failed("command failed; see its output above".into())
            };
            tally.record(label, o, Some(start.elapsed()));
        }
        Report::Libtest => {
            step.command.stdout(Stdio::piped());
            let mut child = step.command.spawn().map_err(|source| Error::Spawn {
                program: describe(&step.command),
                source,
            })?;
            let (mut passed, mut failed, mut ignored, mut suites) = (0, 0, 0, 0);
            for line in BufReader::new(child.stdout.take().expect("stdout is piped")).lines() {
                let Ok(line) = line else { break };
                println!("{line}");
                if let Some((p, f, i)) = parse_libtest_result(&line) {
                    passed += p;
                    failed += f;
                    ignored += i;
                    suites += 1;
                }
            }
            let status = child.wait().map_err(|source| Error::Spawn {
                program: "cargo test".into(),
                source,
            })?;
            tally.record_counted(&label, passed, failed, ignored);
            if !status.success() && failed == 0 {
                tally.record(
                    format!("{label}::build"),
                    Outcome::Failed(format!(
                        "cargo test failed ({status}) after {suites} suites"
                    )),
                    None,
                );
            }
        }
    }
    Ok(())
}

/// Options of `cargo xtask test`.
#[derive(Clone, Debug)]
pub struct TestOptions {
    pub release: bool,
    pub skip_fuzz: bool,
    pub skip_host: bool,
    /// Run only the QEMU scenarios whose name contains this.
    pub scenario: Option<String>,
}

pub fn run(opts: TestOptions) -> Result<()> {
    let started = Instant::now();
    tools::ensure(&tools::all_for_tests())?;
    let mut tally = Tally::default();
    if !opts.skip_host {
        for step in host_steps() {
            run_host_step(step, &mut tally)?;
        }
    }

    let build = |flavor| {
        image::build(BuildOptions {
            release: opts.release,
            flavor,
        })
    };
    let test_kernel = build(Flavor::Test);
    let kernel = build(Flavor::Normal);
    match (test_kernel, kernel) {
        (Ok(test_kernel), Ok(kernel)) => {
            tally.record("build::kernel-images", Outcome::Passed, None);
            let iso = match iso::build(&kernel, opts.release) {
                Ok(p) => {
                    tally.record("build::iso", Outcome::Passed, None);
                    Some(p)
                }
                Err(e) => {
                    tally.record("build::iso", Outcome::Failed(e.to_string()), None);
                    None
                }
            };
            let images = Images {
                test_kernel: test_kernel.elf,
                kernel: kernel.elf,
                iso: iso.clone(),
            };
            let wanted = |name: &str| opts.scenario.as_deref().is_none_or(|w| name.contains(w));
            for s in scenarios::all(iso.is_some())
                .into_iter()
                .filter(|s| wanted(s.name))
            {
                scenario::run(s, &images, &mut tally)?;
            }
        }
        (a, b) => {
            let why = [a.err(), b.err()]
                .into_iter()
                .flatten()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            tally.record("build::kernel-images", Outcome::Failed(why), None);
        }
    }

    if !opts.skip_fuzz {
        fuzz::smoke(&mut tally)?;
    }
    println!("\nxtask test took {:.1}s", started.elapsed().as_secs_f64());
    tally.finish();
    match tally.failed() {
        0 => Ok(()),
        failed => Err(Error::TestsFailed { failed }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summary_lines_parse() {
        let l = "test result: ok. 12 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(parse_libtest_result(l), Some((12, 0, 2)));
        let l = "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(parse_libtest_result(l), Some((3, 1, 0)));
        assert_eq!(parse_libtest_result("running 3 tests"), None);
    }
}
