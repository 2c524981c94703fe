//! The serial console: `kprint!`/`kprintln!` for raw lines and a `log`
//! backend that prefixes every record with the time since boot and its level:
//!
//! ```text
//! [    0.012345] INFO  message
//! ```

use core::fmt::{self, Write};

use log::{Level, LevelFilter, Log, Metadata, Record};
use spin::Mutex;

use crate::arch::serial::RawSerial;
use crate::time;

static CONSOLE: Mutex<RawSerial> = Mutex::new(RawSerial);

/// Writes formatted text to the console under its lock.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    let mut out = CONSOLE.lock();
    let _ = out.write_fmt(args);
}

/// Prints to the serial console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Prints a line to the serial console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `log::error!` under a name that does not clash with test macros.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { log::error!($($arg)*) };
}

struct Logger;

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = time::now_ns();
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARN ",
            Level::Info => "INFO ",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        write_fmt(format_args!(
            "[{:5}.{:06}] {level} {}\n",
            ns / 1_000_000_000,
            (ns / 1000) % 1_000_000,
            record.args()
        ));
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Installs the logger at `level`.
pub fn init(level: LevelFilter) {
    // `set_logger` fails only if called twice; the first logger stays.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Parses a `loglevel=` value.
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    match s {
        "off" => Some(LevelFilter::Off),
        "error" => Some(LevelFilter::Error),
        "warn" => Some(LevelFilter::Warn),
        "info" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}
