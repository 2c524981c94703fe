//! QEMU test scenarios: what to boot, how, what to run on the host side
//! meanwhile, and what must be seen. Add a scenario to `scenarios.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crash_report::{self, REQUIRED_FIELDS};
use crate::error::{Result, io};
use crate::ktest_protocol::{self, Progress};
use crate::qemu::{Boot, GuestExit, Machine, Net};
use crate::session::{self, Deadline, End, Flow, SerialLog};
use crate::symbols::Symbolizer;
use crate::tally::{Outcome, Tally};
use crate::{net_backend, paths};

/// Which image a scenario boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {
    /// The `qemu-tests` kernel via `-kernel`.
    TestKernel,
    /// The normal kernel via `-kernel`.
    Kernel,
    /// The GRUB ISO of the normal kernel.
    Iso,
}

/// Code that talks to the guest while it runs (over the network or by
/// watching serial output), e.g. a packet generator for filter tests.
pub trait HostDriver: Send {
    /// Runs until done; `Err` fails the scenario. `serial` lets the driver
    /// wait for guest output; `net` is the scenario's NIC setup.
    fn run(&mut self, serial: &SerialLog, net: &Net) -> Result<(), String>;
}

/// What a scenario must observe.
pub enum Expect {
    /// The kernel runs its tests; each becomes one result `qemu::<name>`.
    KernelTests { per_test: Duration },
    /// An exception report with these `field=value`s, notes containing these
    /// texts, and RIP or a backtrace frame inside a function whose name
    /// contains `frame_in` (checked with the kernel's symbol table).
    Crash {
        exit: GuestExit,
        fields: Vec<(&'static str, String)>,
        notes: Vec<&'static str>,
        frame_in: &'static str,
    },
    /// A panic report whose message contains `message` and whose backtrace
    /// passes through a function whose name contains `frame_in`.
    Panic {
        message: &'static str,
        frame_in: &'static str,
    },
    /// A triple fault (QEMU exits 0 under `-no-reboot`) after a line
    /// containing `after`: proves the host tells a triple fault from success.
    TripleFault { after: &'static str },
    /// Boot output containing all of `lines` (each a substring of some line);
    /// with `stop_at` the run is stopped once a line contains it, otherwise
    /// the kernel must exit with success.
    Banner {
        lines: Vec<&'static str>,
        stop_at: Option<&'static str>,
    },
}

/// One QEMU scenario.
pub struct Scenario {
    pub name: &'static str,
    pub image: Image,
    /// Kernel command line (ignored for ISO boots, which use grub.cfg).
    pub cmdline: String,
    pub net: Net,
    pub driver: Option<Box<dyn HostDriver>>,
    pub expect: Expect,
    /// Bound on the whole run.
    pub timeout: Duration,
    /// More QEMU arguments (e.g. `-icount shift=0,sleep=off`, see
    /// [`ICOUNT`]).
    pub qemu_args: Vec<&'static str>,
    /// Run on a fresh host tap device when xtask can make one, on `net`
    /// (user networking) otherwise (`crate::net_backend`): the guest's
    /// `net.ip`/`net.gateway` are appended to `cmdline` and every result
    /// is named with the backend (`[tap]`, `[user]`).
    pub prefer_tap: bool,
}

/// QEMU arguments that make guest time count instructions (1 ns each) and
/// skip idle time: timing in the guest becomes deterministic and immune to
/// host load.
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,sleep=off"];

/// Paths of the images scenarios can boot.
pub struct Images {
    pub test_kernel: PathBuf,
    pub kernel: PathBuf,
    pub iso: Option<PathBuf>,
}

fn machine_for(s: &Scenario, images: &Images) -> std::result::Result<(Machine, PathBuf), String> {
    let (boot, elf) = match s.image {
        Image::TestKernel => (
            Boot::Kernel {
                elf: images.test_kernel.clone(),
                cmdline: s.cmdline.clone(),
            },
            images.test_kernel.clone(),
        ),
        Image::Kernel => (
            Boot::Kernel {
                elf: images.kernel.clone(),
                cmdline: s.cmdline.clone(),
            },
            images.kernel.clone(),
        ),
        Image::Iso => {
            let iso = images.iso.clone().ok_or("the ISO was not built")?;
            (Boot::Iso(iso), images.kernel.clone())
        }
    };
    let mut m = Machine::new(boot);
    m.net = s.net.clone();
    m.extra_args = s.qemu_args.iter().map(|a| a.to_string()).collect();
    Ok((m, elf))
}

/// Runs `s` and records its results in `tally`.
pub fn run(mut s: Scenario, images: &Images, tally: &mut Tally) -> Result<()> {
    // Kept to the end of the run: a tap is deleted when this drops.
    let backend = s.prefer_tap.then(|| {
        let b = net_backend::prefer_tap(s.net.clone());
        s.net = b.net.clone();
        s.cmdline = format!("{} {}", s.cmdline, b.cmdline).trim().to_string();
        b
    });
    let suffix = backend
        .as_ref()
        .map_or(String::new(), |b| format!("[{}]", b.label));
    let label = format!("qemu::{}{suffix}", s.name);
    if let Some(t) = backend.as_ref().and_then(|b| b.tap.as_ref()) {
        eprintln!(
            "xtask: {} on tap {} (host {}, guest {})",
            s.name,
            t.name(),
            t.host(),
            t.guest()
        );
    }
    if let Some(why) = backend.as_ref().and_then(|b| b.fallback.as_ref()) {
        tally.record(
            format!("qemu::{}[tap]", s.name),
            Outcome::Skipped(format!("no tap ({why}); running on user networking")),
            None,
        );
    }
    let (machine, elf) = match machine_for(&s, images) {
        Ok(m) => m,
        Err(why) => {
            tally.record(label, Outcome::Failed(why), None);
            return Ok(());
        }
    };
    let serial = SerialLog::default();
    let driver = s.driver.take().map(|mut d| {
        let serial = serial.clone();
        let net = s.net.clone();
        std::thread::spawn(move || d.run(&serial, &net))
    });

    let mut progress = Progress::default();
    let (first, stop_at) = match &s.expect {
        Expect::KernelTests { .. } => (
            Deadline::after(
                Duration::from_secs(60),
                "the kernel to boot and print `KTEST plan`",
            ),
            None,
        ),
        Expect::Banner { stop_at, .. } => (Deadline::after(s.timeout, "the boot banner"), *stop_at),
        _ => (Deadline::after(s.timeout, "the crash report"), None),
    };
    let per_test = match &s.expect {
        Expect::KernelTests { per_test } => Some(*per_test),
        _ => None,
    };
    let outcome = session::run(
        &machine,
        first,
        s.timeout,
        Some(&serial),
        |line, deadline| {
            if let Some(ev) = ktest_protocol::parse(line) {
                if let (ktest_protocol::Event::Start(name), Some(limit)) = (&ev, per_test) {
                    *deadline = Deadline::after(
                        limit,
                        format!("test {name} to finish within {}s", limit.as_secs()),
                    );
                }
                progress.apply(ev);
            }
            match stop_at {
                Some(marker) if line.contains(marker) => Flow::Stop,
                _ => Flow::Continue,
            }
        },
    )?;
    save_log(s.name, &outcome.lines, &outcome.stderr)?;

    let driver_result = driver.map(|h| {
        h.join()
            .unwrap_or_else(|_| Err("host driver panicked".into()))
    });
    let symbols = Symbolizer::load(&elf).ok();
    let mut failed = false;
    match &s.expect {
        Expect::KernelTests { .. } => {
            failed |= record_kernel_tests(s.name, &suffix, &progress, &outcome.end, tally);
        }
        expect => {
            let verdict = check(expect, &outcome.lines, &outcome.end, symbols.as_ref());
            failed |= verdict.is_err();
            let o = match verdict {
                Ok(()) => Outcome::Passed,
                Err(why) => Outcome::Failed(why),
            };
            tally.record(label.clone(), o, Some(outcome.elapsed));
        }
    }
    if let Some(r) = driver_result {
        failed |= r.is_err();
        tally.record(
            format!("{label}::host-driver"),
            r.map_or_else(Outcome::Failed, |()| Outcome::Passed),
            None,
        );
    }
    if failed {
        print_tail(s.name, &outcome.lines, &outcome.stderr, symbols.as_ref());
    }
    Ok(())
}

/// Records one result per kernel test plus the run itself, each name
/// followed by `suffix` (the backend of a scenario that prefers a tap);
/// returns whether anything failed.
fn record_kernel_tests(
    scenario: &str,
    suffix: &str,
    p: &Progress,
    end: &End,
    tally: &mut Tally,
) -> bool {
    let why_unfinished = match end {
        End::TimedOut { waiting_for } => format!("timed out waiting for {waiting_for}"),
        End::Exited(e) => format!("no result: {e}"),
        End::Stopped => "stopped".into(),
    };
    let mut failed = false;
    for (name, result) in &p.tests {
        let o = match result {
            Some(Ok(_)) => Outcome::Passed,
            Some(Err(reason)) => Outcome::Failed(reason.clone()),
            None => Outcome::Failed(why_unfinished.clone()),
        };
        failed |= o != Outcome::Passed;
        let took = match result {
            Some(Ok(us)) => Some(Duration::from_micros(*us)),
            _ => None,
        };
        tally.record(format!("qemu::{name}{suffix}"), o, took);
    }
    let reported = p.tests.len();
    let mut problems = Vec::new();
    match p.plan {
        None => problems.push("the kernel never printed `KTEST plan` (boot failed?)".to_string()),
        Some(0) => problems.push("the test kernel contains no tests".to_string()),
        Some(n) if n > reported => {
            for i in reported..n {
                tally.record(
                    format!("qemu::unreported-test-{i}{suffix}"),
                    Outcome::Failed(format!("missing result ({why_unfinished})")),
                    None,
                );
            }
            failed = true;
        }
        Some(_) => {}
    }
    let passed = p
        .tests
        .iter()
        .filter(|(_, r)| matches!(r, Some(Ok(_))))
        .count();
    match p.done {
        Some((dp, df)) if dp == passed && df == reported - passed => {}
        Some((dp, df)) => problems.push(format!(
            "kernel summary says {dp} passed, {df} failed; host saw {passed} of {reported}"
        )),
        None => problems.push(format!("no `KTEST done` line: {why_unfinished}")),
    }
    let expected_exit = if passed == reported {
        GuestExit::Success
    } else {
        GuestExit::TestsFailed
    };
    if *end != End::Exited(expected_exit) {
        problems.push(format!(
            "run ended with `{}`, expected `{expected_exit}`",
            describe_end(end)
        ));
    }
    let o = if problems.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(problems.join("; "))
    };
    failed |= o != Outcome::Passed;
    // One per test scenario (several boot the test kernel).
    tally.record(format!("qemu::{scenario}{suffix}::run"), o, None);
    failed
}

fn describe_end(end: &End) -> String {
    match end {
        End::Exited(e) => e.to_string(),
        End::Stopped => "stopped by the host".into(),
        End::TimedOut { waiting_for } => format!("timed out waiting for {waiting_for}"),
    }
}

/// Checks a non-test expectation against the run.
fn check(
    expect: &Expect,
    lines: &[String],
    end: &End,
    symbols: Option<&Symbolizer>,
) -> std::result::Result<(), String> {
    match expect {
        Expect::KernelTests { .. } => unreachable!("handled by record_kernel_tests"),
        Expect::Banner {
            lines: wanted,
            stop_at,
        } => {
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|w| !lines.iter().any(|l| l.contains(w)))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "boot output lacks {missing:?}; run ended: {}",
                    describe_end(end)
                ));
            }
            let ok_end = if stop_at.is_some() {
                End::Stopped
            } else {
                End::Exited(GuestExit::Success)
            };
            if *end != ok_end {
                return Err(format!("run ended with `{}`", describe_end(end)));
            }
            Ok(())
        }
        Expect::TripleFault { after } => {
            if !lines.iter().any(|l| l.contains(after)) {
                return Err(format!(
                    "no line containing `{after}`; run ended: {}",
                    describe_end(end)
                ));
            }
            if crash_report::parse(lines).is_some() {
                return Err("a crash report was printed, so the CPU did not triple-fault".into());
            }
            if *end != End::Exited(GuestExit::TripleFault) {
                return Err(format!(
                    "run ended with `{}`, expected a triple fault",
                    describe_end(end)
                ));
            }
            Ok(())
        }
        Expect::Panic { message, frame_in } => {
            let r = crash_report::parse(lines).ok_or("no panic report in the serial output")?;
            if !r.panic || !r.complete {
                return Err(format!(
                    "incomplete or wrong report (panic={}, complete={})",
                    r.panic, r.complete
                ));
            }
            let m = r.message.clone().unwrap_or_default();
            if !m.contains(message) {
                return Err(format!("panic message `{m}` lacks `{message}`"));
            }
            check_frames(&r, symbols, frame_in)?;
            if *end != End::Exited(GuestExit::Panic) {
                return Err(format!(
                    "run ended with `{}`, expected a panic exit",
                    describe_end(end)
                ));
            }
            Ok(())
        }
        Expect::Crash {
            exit,
            fields,
            notes,
            frame_in,
        } => {
            let r = crash_report::parse(lines).ok_or("no crash report in the serial output")?;
            if r.panic || !r.complete {
                return Err(format!(
                    "incomplete or wrong report (panic={}, complete={})",
                    r.panic, r.complete
                ));
            }
            let missing: Vec<&str> = REQUIRED_FIELDS
                .iter()
                .copied()
                .filter(|f| !r.fields.contains_key(*f))
                .collect();
            if !missing.is_empty() {
                return Err(format!("crash report lacks fields {missing:?}"));
            }
            for (k, v) in fields {
                let got = r.fields.get(*k).map(String::as_str).unwrap_or("<missing>");
                if got != v {
                    return Err(format!("crash report has {k}={got}, expected {k}={v}"));
                }
            }
            for n in notes {
                if !r.notes.iter().any(|x| x.contains(n)) {
                    return Err(format!(
                        "crash report lacks note `{n}` (notes: {:?})",
                        r.notes
                    ));
                }
            }
            check_frames(&r, symbols, frame_in)?;
            if *end != End::Exited(*exit) {
                return Err(format!(
                    "run ended with `{}`, expected `{exit}`",
                    describe_end(end)
                ));
            }
            Ok(())
        }
    }
}

/// Checks that the report has a backtrace and that RIP or one of its frames
/// symbolizes into a function whose name contains `func`.
fn check_frames(
    r: &crash_report::Report,
    symbols: Option<&Symbolizer>,
    func: &str,
) -> std::result::Result<(), String> {
    if r.frames.is_empty() {
        return Err("the report has no backtrace".into());
    }
    let symbols = symbols.ok_or("cannot read the kernel's symbol table")?;
    let rip = r
        .fields
        .get("rip")
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok());
    // Return addresses point after their call instruction: look up addr - 1.
    let names: Vec<String> = rip
        .and_then(|a| symbols.resolve(a))
        .into_iter()
        .chain(
            r.frames
                .iter()
                .filter_map(|&a| symbols.resolve(a).or_else(|| symbols.resolve(a - 1))),
        )
        .collect();
    if names.iter().any(|n| n.contains(func)) {
        Ok(())
    } else {
        Err(format!(
            "no frame of the backtrace is in a function containing `{func}`; frames: {names:?}"
        ))
    }
}

fn save_log(name: &str, lines: &[String], stderr: &str) -> Result<()> {
    let dir = paths::log_dir();
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut text = lines.join("\n");
    text.push('\n');
    if !stderr.is_empty() {
        text.push_str("--- QEMU stderr ---\n");
        text.push_str(stderr);
    }
    let path: &Path = &dir.join(format!("{name}.log"));
    std::fs::write(path, text).map_err(io(format!("writing {}", path.display())))
}

fn print_tail(name: &str, lines: &[String], stderr: &str, symbols: Option<&Symbolizer>) {
    println!(
        "---- last serial lines of scenario {name} (full log: {}) ----",
        paths::log_dir().join(format!("{name}.log")).display()
    );
    for l in lines.iter().skip(lines.len().saturating_sub(40)) {
        match symbols.and_then(|s| s.annotate(l)) {
            Some(sym) => println!("    {l}   <{sym}>"),
            None => println!("    {l}"),
        }
    }
    if !stderr.trim().is_empty() {
        println!("---- QEMU stderr ----\n{}", stderr.trim());
    }
    println!("----");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktest_protocol::Event;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    const REPORT: &str = "KCRASH trigger page-fault\n=== EXO CRASH REPORT ===\n\
        exception: vector=14 name=#PF (page fault) error=0x2\n\
        rip=0x0000000000001004 cs=0x8 rflags=0x2 rsp=0x5000 ss=0x10\n\
        cr2=0x00000000deadb000 cr3=0x1000\n\
        rax=0x0 rbx=0x0 rcx=0x0 rdx=0x0\nrsi=0x0 rdi=0x0 rbp=0x0 r8=0x0\n\
        r9=0x0 r10=0x0 r11=0x0 r12=0x0\nr13=0x0 r14=0x0 r15=0x0\n\
        backtrace:\n  #0 0x0000000000001004\n  #1 0x0000000000002008\n=== END CRASH REPORT ===";

    fn page_fault_expectation() -> Expect {
        Expect::Crash {
            exit: GuestExit::Crash,
            fields: vec![
                ("vector", "14".into()),
                ("cr2", "0x00000000deadb000".into()),
            ],
            notes: vec![],
            frame_in: "crash::page_fault",
        }
    }

    fn symbols() -> Symbolizer {
        Symbolizer::from_symbols(vec![
            (0x1000, 0x100, "kernel::ktest::crash::page_fault".into()),
            (0x2000, 0x100, "kernel::start".into()),
        ])
    }

    #[test]
    fn a_complete_crash_report_passes() {
        let r = check(
            &page_fault_expectation(),
            &lines(REPORT),
            &End::Exited(GuestExit::Crash),
            Some(&symbols()),
        );
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn a_missing_crash_report_fails() {
        let r = check(
            &page_fault_expectation(),
            &lines("KCRASH trigger page-fault\n"),
            &End::Exited(GuestExit::Crash),
            Some(&symbols()),
        );
        assert!(r.unwrap_err().contains("no crash report"));
    }

    #[test]
    fn wrong_fields_exit_or_frames_fail() {
        let wrong_cr2 = REPORT.replace("cr2=0x00000000deadb000", "cr2=0x0000000000000000");
        let exp = page_fault_expectation();
        let end = End::Exited(GuestExit::Crash);
        assert!(check(&exp, &lines(&wrong_cr2), &end, Some(&symbols())).is_err());
        let no_rax = REPORT.replace("rax=0x0 ", "");
        assert!(
            check(&exp, &lines(&no_rax), &end, Some(&symbols()))
                .unwrap_err()
                .contains("rax")
        );
        let truncated = REPORT.replace("=== END CRASH REPORT ===", "");
        assert!(check(&exp, &lines(&truncated), &end, Some(&symbols())).is_err());
        let triple = End::Exited(GuestExit::TripleFault);
        assert!(check(&exp, &lines(REPORT), &triple, Some(&symbols())).is_err());
        let elsewhere = Symbolizer::from_symbols(vec![(0x1000, 0x2000, "kernel::other".into())]);
        assert!(check(&exp, &lines(REPORT), &end, Some(&elsewhere)).is_err());
    }

    #[test]
    fn triple_fault_expectation_needs_exit_zero_and_no_report() {
        let exp = Expect::TripleFault {
            after: "KCRASH trigger triple-fault",
        };
        let out = lines("KCRASH trigger triple-fault\n");
        assert_eq!(
            check(&exp, &out, &End::Exited(GuestExit::TripleFault), None),
            Ok(())
        );
        assert!(check(&exp, &out, &End::Exited(GuestExit::Success), None).is_err());
        let timed_out = End::TimedOut {
            waiting_for: "x".into(),
        };
        assert!(check(&exp, &out, &timed_out, None).is_err());
    }

    #[test]
    fn banner_requires_every_line_and_a_clean_end() {
        let exp = Expect::Banner {
            lines: vec!["memory map:", "timer:"],
            stop_at: None,
        };
        let out = lines("memory map:\ntimer: 1 MHz\n");
        assert_eq!(
            check(&exp, &out, &End::Exited(GuestExit::Success), None),
            Ok(())
        );
        assert!(
            check(
                &exp,
                &lines("memory map:\n"),
                &End::Exited(GuestExit::Success),
                None
            )
            .is_err()
        );
        assert!(check(&exp, &out, &End::Exited(GuestExit::TripleFault), None).is_err());
    }

    fn progress(events: Vec<Event>) -> Progress {
        let mut p = Progress::default();
        for e in events {
            p.apply(e);
        }
        p
    }

    #[test]
    fn kernel_tests_all_passing_count_as_passed() {
        let p = progress(vec![
            Event::Plan(2),
            Event::Start("a".into()),
            Event::Ok {
                name: "a".into(),
                micros: 1,
            },
            Event::Start("b".into()),
            Event::Ok {
                name: "b".into(),
                micros: 1,
            },
            Event::Done {
                passed: 2,
                failed: 0,
            },
        ]);
        let mut t = Tally::default();
        assert!(!record_kernel_tests(
            "kernel-tests",
            "",
            &p,
            &End::Exited(GuestExit::Success),
            &mut t
        ));
        assert_eq!((t.passed(), t.failed()), (3, 0));
    }

    #[test]
    fn triple_fault_hang_and_missing_results_fail() {
        let started = || {
            progress(vec![
                Event::Plan(3),
                Event::Start("a".into()),
                Event::Ok {
                    name: "a".into(),
                    micros: 1,
                },
                Event::Start("b".into()),
            ])
        };
        let mut t = Tally::default();
        assert!(record_kernel_tests(
            "kernel-tests",
            "",
            &started(),
            &End::Exited(GuestExit::TripleFault),
            &mut t
        ));
        // b (no result), the unreported third test, and the run itself.
        assert_eq!((t.passed(), t.failed()), (1, 3));

        let mut t = Tally::default();
        let hang = End::TimedOut {
            waiting_for: "test b".into(),
        };
        assert!(record_kernel_tests(
            "kernel-tests",
            "",
            &started(),
            &hang,
            &mut t
        ));
        assert_eq!(t.failed(), 3);

        // A success exit with a summary that disagrees with what was seen.
        let mut p = started();
        p.apply(Event::Ok {
            name: "b".into(),
            micros: 1,
        });
        p.apply(Event::Done {
            passed: 3,
            failed: 0,
        });
        let mut t = Tally::default();
        assert!(record_kernel_tests(
            "kernel-tests",
            "",
            &p,
            &End::Exited(GuestExit::Success),
            &mut t
        ));
    }

    #[test]
    fn a_kernel_without_tests_fails() {
        let p = progress(vec![
            Event::Plan(0),
            Event::Done {
                passed: 0,
                failed: 0,
            },
        ]);
        let mut t = Tally::default();
        assert!(record_kernel_tests(
            "kernel-tests",
            "",
            &p,
            &End::Exited(GuestExit::Success),
            &mut t
        ));
    }
}
