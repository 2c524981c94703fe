//! The protocol between the kernel's in-QEMU network tests
//! (`kernel/src/netenv/`) and the `netprobe` test program
//! (`user/src/bin/netprobe`): modes, UDP ports, exit codes. Not part of
//! the system-call ABI; it lives here so both sides share one definition.
//!
//! Spawn argument: `mode as u64 | param << 8`. Exit code: [`PASSED`], or
//! [`FAILED_BASE`] + the number of the first check that failed (the
//! program prints what it saw).

pub use crate::probe::{FAILED_BASE, PASSED};

/// UDP port of the BPF echo handler (`examples/udp_echo.exo`).
pub const PORT_ECHO_BPF: u16 = 7;
/// UDP port of the WebAssembly echo handler.
pub const PORT_ECHO_WASM: u16 = 7007;
/// UDP port of the WebAssembly handler that never ends (fuel runs out).
pub const PORT_SPIN: u16 = 7008;
/// UDP ports of the two ring environments (user-space echo).
pub const PORT_RING_A: u16 = 7001;
pub const PORT_RING_B: u16 = 7002;
/// UDP port of the spoofing test's own binding.
pub const PORT_SPOOF: u16 = 7003;
/// UDP port of the "done" ring: one datagram there wakes a blocked probe.
pub const PORT_DONE: u16 = 7100;
/// UDP port of the vectoring handler (`examples/vector_payload.exo`).
pub const PORT_VECTOR: u16 = 6000;
/// UDP port of the filter-program ring: its filter, `udp dst port 7011
/// and len > PROGRAM_MIN_LEN`, needs a filter program (`len`).
pub const PORT_PROGRAM: u16 = 7011;
/// Frames to [`PORT_PROGRAM`] must be longer than this for the program
/// to take them.
pub const PROGRAM_MIN_LEN: usize = 400;
/// EtherType of the bystander's binding (IEEE local experimental 1).
pub const ETHERTYPE_BYSTANDER: u16 = 0x88B5;

/// Every UDP port the host side must reach.
pub const UDP_PORTS: [u16; 8] = [
    PORT_ECHO_BPF,
    PORT_ECHO_WASM,
    PORT_SPIN,
    PORT_RING_A,
    PORT_RING_B,
    PORT_DONE,
    PORT_VECTOR,
    PORT_PROGRAM,
];

/// What a netprobe does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Binds the BPF echo (its region in its own pages) and the done ring,
    /// blocks until the done datagram, then checks the exported counters
    /// (`param` echoes) and the reply its handler left in its region.
    EchoBpf = 1,
    /// The same with the WebAssembly echo handler.
    EchoWasm = 2,
    /// Binds a ring on port `PORT_RING_A + (param & 0xFF)` and echoes
    /// `param >> 8 & 0xFFFF` datagrams from user space through the
    /// transmit filter; with bit 24 of `param`, also spawns an
    /// [`Mode::Overlapper`] and grants it an overlap when it asks (LRPC).
    RingEcho = 3,
    /// Binds a ring on its parent's port `param`: refused (conflict), asks
    /// the parent for a grant, binds again (accepted), unbinds.
    Overlapper = 4,
    /// Sends frames from a port and a MAC it is not bound to (refused and
    /// counted) and one it is bound to (sent).
    Spoof = 5,
    /// Binds the spinning WebAssembly handler, the WebAssembly echo and the
    /// done ring; after the done datagram checks that the spinning one
    /// faulted `param` times and the echo still worked.
    FuelSpin = 6,
    /// Hostile and wrong arguments to every network call.
    Hostile = 7,
    /// Binds a ring for [`ETHERTYPE_BYSTANDER`] frames and drains it
    /// forever, blocking briefly between checks (an environment running
    /// while the host floods the NIC).
    Bystander = 8,
    /// Binds the vectoring handler (`examples/vector_payload.exo`, its
    /// ring and index in its own pages, no receive ring) and blocks; each
    /// datagram's payload is copied into its pages with its checksum and
    /// the handler wakes it (`wake_owner`). It checks every payload
    /// against [`pattern_byte`] and every checksum against its own sum,
    /// and ends after the datagrams of its [`host_param`].
    Vector = 9,
    /// Binds a ring with a filter program ([`PORT_PROGRAM`], frames longer
    /// than [`PROGRAM_MIN_LEN`]) and reads `param` datagrams of a `pattern`
    /// request: exactly the long ones, in order, byte for byte. Echoes
    /// each through the transmit filter (allowed by the program half of
    /// the rule) and checks that a short reply from the same port is
    /// refused.
    ProgramRing = 10,
}

impl Mode {
    pub fn from_u8(v: u8) -> Option<Mode> {
        use Mode::*;
        [
            EchoBpf,
            EchoWasm,
            RingEcho,
            Overlapper,
            Spoof,
            FuelSpin,
            Hostile,
            Bystander,
            Vector,
            ProgramRing,
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

/// [`Mode::RingEcho`] parameter: ring `index` (0: A, 1: B), `count`
/// datagrams, and whether to run the overlap protocol.
pub const fn ring_param(index: u64, count: u64, overlap: bool) -> u64 {
    index | (count & 0xFFFF) << 8 | (overlap as u64) << 24
}

/// Parameter of the modes the host talks to ([`Mode::EchoBpf`],
/// [`Mode::EchoWasm`], [`Mode::Vector`]): `count` datagrams (16 bits) and
/// the IPv4 address the probe answers ARP for (0: it binds no ARP
/// responder).
pub const fn host_param(count: u64, ip: [u8; 4]) -> u64 {
    (count & 0xFFFF) | (u32::from_be_bytes(ip) as u64) << 16
}

/// `(count, ip)` of a [`host_param`].
pub const fn split_host_param(param: u64) -> (u64, [u8; 4]) {
    (param & 0xFFFF, ((param >> 16) as u32).to_be_bytes())
}

/// Payload sizes of the datagrams the host sends to [`PORT_VECTOR`]
/// (`NETTEST pattern`), in turn: odd ones check the checksum's padding.
pub const PATTERN_SIZES: [usize; 6] = [1, 17, 300, 999, 1000, 1472];

/// Payload size of datagram `seq` of a `NETTEST pattern` run.
pub const fn pattern_len(seq: u64) -> usize {
    PATTERN_SIZES[(seq % PATTERN_SIZES.len() as u64) as usize]
}

/// Byte `j` of datagram `seq` of a `NETTEST pattern` run: a mix of both,
/// so a byte in the wrong place or the wrong datagram shows. The host
/// driver (`xtask/src/net_env_driver.rs`) has its own copy, tested
/// against the same values.
pub const fn pattern_byte(seq: u64, j: u64) -> u8 {
    let x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ j.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ x >> 29 ^ x >> 47) as u8
}

/// LRPC procedure a [`Mode::RingEcho`] parent serves: grant the caller an
/// overlap of its ring binding. Reply word 0: 0 or an error code.
pub const PROC_GRANT_ME: u64 = 0;

/// LRPC procedure a [`Mode::RingEcho`] parent serves: revoke the grant
/// [`PROC_GRANT_ME`] gave the caller (which breaks the caller's
/// overlapping bindings). Reply word 0: 0 or an error code.
pub const PROC_REVOKE_ME: u64 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        for v in 0..=255u8 {
            if let Some(m) = Mode::from_u8(v) {
                assert_eq!(decode(m.arg(0x12_3456)), (Some(m), 0x12_3456));
            }
        }
        assert_eq!(
            split_host_param(host_param(24, [10, 77, 3, 2])),
            (24, [10, 77, 3, 2])
        );
        let p = ring_param(1, 20, true);
        assert_eq!((p & 0xFF, p >> 8 & 0xFFFF, p >> 24 & 1), (1, 20, 1));
    }

    #[test]
    fn the_pattern_matches_the_host_drivers_copy() {
        // The same values are asserted in xtask/src/net_env_driver.rs.
        let got = [
            pattern_byte(0, 0),
            pattern_byte(0, 1),
            pattern_byte(1, 0),
            pattern_byte(5, 1471),
            pattern_byte(23, 999),
        ];
        assert_eq!(got, PATTERN_PROBE);
        assert_eq!(
            (pattern_len(0), pattern_len(6), pattern_len(11)),
            (1, 1, 1472)
        );
    }

    const PATTERN_PROBE: [u8; 5] = [0, 97, 176, 243, 11];
}
