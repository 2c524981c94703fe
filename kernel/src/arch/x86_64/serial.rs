//! COM1 16550 UART driver (polled, transmit only).
//!
//! Written by hand rather than with a UART crate because the crash path needs
//! a lock-free writer that works from any context, including with the console
//! lock held by the code that faulted.

use x86_64::instructions::port::Port;

const COM1: u16 = 0x3F8;
const DATA: u16 = 0;
const INT_ENABLE: u16 = 1;
const FIFO_CTRL: u16 = 2;
const LINE_CTRL: u16 = 3;
const MODEM_CTRL: u16 = 4;
const LINE_STATUS: u16 = 5;
const LSR_THR_EMPTY: u8 = 1 << 5;

fn outb(offset: u16, value: u8) {
    let mut port = Port::<u8>::new(COM1 + offset);
    // SAFETY: COM1 registers are I/O ports owned by this driver; writing them
    // has no memory-safety effect.
    unsafe { port.write(value) }
}

fn inb(offset: u16) -> u8 {
    let mut port = Port::<u8>::new(COM1 + offset);
    // SAFETY: reading COM1's registers has no side effect on memory.
    unsafe { port.read() }
}

/// Programs COM1 for 115200 baud, 8N1, FIFOs on, no interrupts.
pub fn init() {
    outb(INT_ENABLE, 0x00);
    outb(LINE_CTRL, 0x80); // DLAB on
    outb(DATA, 0x01); // divisor low: 115200 baud
    outb(INT_ENABLE, 0x00); // divisor high
    outb(LINE_CTRL, 0x03); // 8 bits, no parity, one stop bit, DLAB off
    outb(FIFO_CTRL, 0xC7); // enable and clear FIFOs, 14-byte threshold
    outb(MODEM_CTRL, 0x03); // DTR, RTS
}

/// Sends one byte, waiting for the transmit holding register (bounded wait:
/// a missing UART must not hang the kernel).
pub fn write_byte(byte: u8) {
    for _ in 0..100_000 {
        if inb(LINE_STATUS) & LSR_THR_EMPTY != 0 {
            break;
        }
        core::hint::spin_loop();
    }
    outb(DATA, byte);
}

/// Sends bytes, translating `\n` to `\r\n`.
pub fn write_bytes(bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            write_byte(b'\r');
        }
        write_byte(b);
    }
}

/// A stateless `fmt::Write` over COM1 without any lock. The console uses it
/// under its lock; the crash path uses it directly.
pub struct RawSerial;

impl core::fmt::Write for RawSerial {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}
