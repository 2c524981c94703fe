//! Runs every registered test in one boot and reports over serial.
//!
//! Protocol (one line each, parsed by `cargo xtask test`):
//!
//! ```text
//! KTEST plan <count>
//! KTEST start <name>
//! KTEST ok <name> <microseconds>
//! KTEST fail <name> <file>:<line>: <message on one line>
//! KTEST done <passed> passed, <failed> failed
//! ```
//!
//! A panic inside a test prints `KTEST panic <name>` before the panic report
//! (see `crash.rs` in the kernel root). Afterwards QEMU exits through
//! isa-debug-exit with `ExitCode::Success` or `ExitCode::TestsFailed`.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::exit::{ExitCode, exit};
use crate::{kprintln, time};

use super::registry;

static CURRENT_NAME: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);

/// Name of the test being run, if any (for the panic handler).
pub fn current_test() -> Option<&'static str> {
    let ptr = CURRENT_NAME.load(Ordering::Relaxed);
    if ptr.is_null() {
        return None;
    }
    let len = CURRENT_LEN.load(Ordering::Relaxed);
    registry::tests()
        .iter()
        .map(|t| t.name)
        .find(|n| n.as_ptr() == ptr && n.len() == len)
}

fn display_name(name: &str) -> &str {
    name.strip_prefix("kernel::").unwrap_or(name)
}

/// Runs the tests whose names contain `filter` (all if `None`) and none of
/// the comma-separated substrings of `exclude`, then exits.
pub fn run(filter: Option<&str>, exclude: Option<&str>) -> ! {
    let tests = registry::tests();
    let selected = || {
        tests
            .iter()
            .filter(|t| filter.is_none_or(|f| t.name.contains(f)))
            .filter(|t| exclude.is_none_or(|x| !x.split(',').any(|x| t.name.contains(x))))
    };
    kprintln!("KTEST plan {}", selected().count());
    let (mut passed, mut failed) = (0u32, 0u32);
    for test in selected() {
        let name = display_name(test.name);
        CURRENT_NAME.store(test.name.as_ptr().cast_mut(), Ordering::Relaxed);
        CURRENT_LEN.store(test.name.len(), Ordering::Relaxed);
        kprintln!("KTEST start {name}");
        let start = time::now_ns();
        let result = (test.run)();
        let micros = (time::now_ns() - start) / 1000;
        match result {
            Ok(()) => {
                passed += 1;
                kprintln!("KTEST ok {name} {micros}");
            }
            Err(e) => {
                failed += 1;
                let msg = e.message.replace('\n', " | ");
                kprintln!(
                    "KTEST fail {name} {}:{}: {msg}",
                    e.location.file(),
                    e.location.line()
                );
            }
        }
    }
    CURRENT_NAME.store(core::ptr::null_mut(), Ordering::Relaxed);
    kprintln!("KTEST done {passed} passed, {failed} failed");
    exit(if failed == 0 {
        ExitCode::Success
    } else {
        ExitCode::TestsFailed
    })
}
