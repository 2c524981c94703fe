//! In-QEMU kernel tests.
//!
//! Declare a test next to the code it tests:
//!
//! ```ignore
//! crate::kernel_test! {
//!     fn frames_are_distinct() {
//!         ensure!(a != b, "same frame twice: {a}");
//!         ensure_eq!(x, 3);
//!         Ok(())
//!     }
//! }
//! ```
//!
//! With the `qemu-tests` feature, the macro emits the function and a
//! [`KernelTest`] record in the `ktests` linker section; the link script
//! brackets that section with `__ktests_start`/`__ktests_end`, and
//! [`runner::run`] executes every record at boot and reports each over
//! serial (protocol in `runner.rs`). Without the feature the test vanishes.
//! Tests return `Result<(), TestFailure>`; `?` works on any error that
//! implements `Display` and records where it happened.

#[cfg(feature = "qemu-tests")]
pub mod crash;
pub mod registry;
#[cfg(feature = "qemu-tests")]
pub mod runner;

use alloc::string::{String, ToString};
use core::panic::Location;

/// One registered kernel test.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct KernelTest {
    /// `module::path::function`.
    pub name: &'static str,
    pub run: fn() -> TestResult,
}

/// Outcome of a test.
pub type TestResult = Result<(), TestFailure>;

/// Why a test failed, and where.
#[derive(Debug)]
pub struct TestFailure {
    pub message: String,
    pub location: &'static Location<'static>,
}

impl TestFailure {
    /// A failure at the caller's location.
    #[track_caller]
    pub fn new(message: String) -> TestFailure {
        TestFailure {
            message,
            location: Location::caller(),
        }
    }
}

impl<E: core::fmt::Display> From<E> for TestFailure {
    #[track_caller]
    fn from(e: E) -> TestFailure {
        TestFailure::new(e.to_string())
    }
}

/// Declares a kernel test (see the module documentation).
#[macro_export]
macro_rules! kernel_test {
    (fn $name:ident() $body:block) => {
        #[cfg(feature = "qemu-tests")]
        #[allow(unused_imports)]
        fn $name() -> $crate::ktest::TestResult {
            #[allow(unused_imports)]
            use $crate::{ensure, ensure_eq};
            $body
        }

        #[cfg(feature = "qemu-tests")]
        const _: () = {
            // SAFETY: the `ktests` section holds only `KernelTest` records
            // (each `#[repr(C)]`, pointer aligned), which is what
            // `ktest::registry` reads between the section's bounds.
            #[used]
            #[unsafe(link_section = "ktests")]
            static TEST: $crate::ktest::KernelTest = $crate::ktest::KernelTest {
                name: concat!(module_path!(), "::", stringify!($name)),
                run: $name,
            };
        };
    };
}

/// Fails the test with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::ktest::TestFailure::new(alloc::format!($($fmt)+)));
        }
    };
}

/// Fails the test unless the two values are equal.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err($crate::ktest::TestFailure::new(alloc::format!(
                "{} == {} failed: {:?} != {:?}",
                stringify!($left),
                stringify!($right),
                l,
                r
            )));
        }
    }};
}
