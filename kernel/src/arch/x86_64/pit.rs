//! The 8254 PIT, used only as a reference clock to calibrate the TSC and the
//! local APIC timer (channel 2, gated through port 0x61, polled; no IRQ).

use x86_64::instructions::port::Port;

/// Input frequency of the PIT in Hz.
pub const PIT_HZ: u64 = 1_193_182;

const CHANNEL2_DATA: u16 = 0x42;
const COMMAND: u16 = 0x43;
const GATE_PORT: u16 = 0x61;

fn outb(port: u16, value: u8) {
    // SAFETY: PIT and port-0x61 registers only affect timer/speaker state.
    unsafe { Port::<u8>::new(port).write(value) }
}

fn inb(port: u16) -> u8 {
    // SAFETY: reading PIT status has no memory effect.
    unsafe { Port::<u8>::new(port).read() }
}

/// Busy-waits `ticks` PIT periods (at most 65535, about 54.9 ms) using
/// channel 2 in mode 0, calling `start` right after the count is armed and
/// `stop` as soon as it expires. Returns `false` if the PIT never expired
/// (no PIT present), after a bounded number of polls.
pub fn measure(ticks: u16, mut start: impl FnMut(), mut stop: impl FnMut()) -> bool {
    // Gate low, speaker off.
    let gate = inb(GATE_PORT) & !0x03;
    outb(GATE_PORT, gate);
    // Channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary.
    outb(COMMAND, 0b1011_0000);
    outb(CHANNEL2_DATA, ticks as u8);
    outb(CHANNEL2_DATA, (ticks >> 8) as u8);
    // Raising the gate starts the count.
    outb(GATE_PORT, gate | 0x01);
    start();
    let mut expired = false;
    for _ in 0..50_000_000u64 {
        if inb(GATE_PORT) & 0x20 != 0 {
            expired = true;
            break;
        }
    }
    stop();
    outb(GATE_PORT, gate);
    expired
}
