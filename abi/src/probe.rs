//! The protocol between the kernel's in-QEMU environment tests and the
//! `probe` test program (`user/src/bin/probe`): which behavior a spawned
//! probe runs (the spawn argument) and what its exit code means. Not part
//! of the system-call ABI; it lives here so both sides share one
//! definition.
//!
//! Spawn argument: `mode as u64 | param << 8`. Exit code: [`PASSED`], or
//! [`FAILED_BASE`] + the number of the first check that failed (the probe
//! prints what it saw).

/// Exit code of a probe whose checks all passed.
pub const PASSED: u64 = 0;
/// Exit code base for a failed check.
pub const FAILED_BASE: u64 = 1000;

/// What a probe does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Null call, console, exported pages make sense; exit.
    Basic = 1,
    /// Tries to map, free, grant, revoke and claim frame `param`, owned by
    /// another environment: every call must be refused.
    ForeignFrame = 2,
    /// Tries to map kernel frames, kernel and reserved addresses, bad
    /// arguments: every call must be refused with the right code.
    KernelMemory = 3,
    /// Tries to grant frame `param` (not held) and bad grants of its own.
    GrantUnheld = 4,
    /// Touches unmapped, kernel, read-only and non-canonical addresses and
    /// raises #DE, #UD, #BP, #AC, #NM: its own handler must see each one.
    Faults = 5,
    /// Reads a kernel address without an exception handler (it dies).
    Unhandled = 6,
    /// Burns CPU forever with a well-behaved end-of-slice handler.
    Spin = 7,
    /// Allocates `param` extra slots, then spins forever inside its
    /// end-of-slice handler.
    SpinInSliceEnd = 8,
    /// Maps `param` pages with known contents and a dump area, ignores
    /// revocation requests, and checks every repossessed page's dump.
    IgnoreRevocation = 9,
    /// Maps `param` reclaimable pages and gives frames back on request.
    Compliant = 10,
    /// A randomized pass of garbage arguments over every system call
    /// (seed `param`).
    Garbage = 11,
    /// Serves LRPC calls (see the `PROC_*` numbers) and blocks.
    PctServer = 12,
    /// Calls the server `param` (an environment id) and shares a page.
    PctClient = 13,
    /// Takes frames, mappings, page tables, grants, slots, a dump area and
    /// a child, then exits (the kernel checks that everything came back).
    Hoard = 14,
    /// Blocks with a deadline (expects `TimedOut`), then blocks without one
    /// until the kernel wakes it, then once more: the kernel posted a second
    /// wake-up while it ran, which must make that block return at once.
    Blocker = 15,
    /// Gives its slice to environment `param` by directed yield, forever.
    Donor = 16,
}

impl Mode {
    pub fn from_u8(v: u8) -> Option<Mode> {
        use Mode::*;
        [
            Basic,
            ForeignFrame,
            KernelMemory,
            GrantUnheld,
            Faults,
            Unhandled,
            Spin,
            SpinInSliceEnd,
            IgnoreRevocation,
            Compliant,
            Garbage,
            PctServer,
            PctClient,
            Hoard,
            Blocker,
            Donor,
        ]
        .into_iter()
        .find(|m| *m as u8 == v)
    }

    /// The spawn argument for this mode with `param`.
    pub const fn arg(self, param: u64) -> u64 {
        self as u64 | param << 8
    }
}

/// Splits a spawn argument into mode and parameter.
pub fn decode(arg: u64) -> (Option<Mode>, u64) {
    (Mode::from_u8(arg as u8), arg >> 8)
}

/// Server procedure: `[a, b] -> [a + b, caller id]`.
pub const PROC_ADD: u64 = 0;
/// Server procedure: map granted frame `a0`, check `a1` bytes of pattern
/// `a2`, write pattern `a2 + 1` after them, keep the page mapped; returns
/// the number of matching bytes.
pub const PROC_SHARED: u64 = 1;
/// Server procedure: read the page kept by `PROC_SHARED` again; fails with
/// [`SERVER_FAULTED`] if that faults (after a revocation).
pub const PROC_REREAD: u64 = 2;
/// Status a server returns when its access to a shared page faulted.
pub const SERVER_FAULTED: u64 = 0x5EED;

/// Value every byte of page `vaddr` holds in the `IgnoreRevocation` probe.
pub const fn page_pattern(vaddr: u64) -> u8 {
    ((vaddr >> 12) as u8) ^ 0xA5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        for v in 0..=255u8 {
            if let Some(m) = Mode::from_u8(v) {
                assert_eq!(decode(m.arg(0x1234)), (Some(m), 0x1234));
            }
        }
        assert_eq!(decode(0).0, None);
        assert_eq!(Mode::from_u8(16), Some(Mode::Donor));
    }
}
