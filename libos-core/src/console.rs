//! `print!`/`println!` through the kernel's debug console. Each macro call
//! formats into a buffer on the stack (no shared state, so it is safe in
//! upcall handlers) and sends whole lines.

use core::fmt::{self, Write};

/// Bytes buffered before a flush.
const BUFFER: usize = 512;

struct Line {
    buf: [u8; BUFFER],
    len: usize,
}

impl Line {
    fn flush(&mut self) {
        if self.len > 0 {
            let _ = crate::api::debug_print(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == BUFFER {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

/// Prints formatted text (used by the macros).
pub fn print(args: fmt::Arguments<'_>) {
    let mut line = Line {
        buf: [0; BUFFER],
        len: 0,
    };
    let _ = line.write_fmt(args);
    line.flush();
}

/// Prints to the kernel console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the kernel console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
