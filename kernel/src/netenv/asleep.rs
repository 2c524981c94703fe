//! Handlers that serve the host while their owner is blocked (scenario
//! `net-asleep`: a host tap device when the host can make one, user
//! networking with forwarded ports otherwise). Every probe here also
//! binds the ARP responder for the address of `net.ip`
//! (`libos_net::arp`), so on a tap the host's ARP requests are answered
//! by a handler too; the host driver empties its neighbour table before
//! each request and checks afterwards that the guest's MAC was learned.
//!
//! * the BPF echo and the WebAssembly echo answer `ECHOES` datagrams byte
//!   for byte while their owner never runs;
//! * control initiation: the vectoring handler copies each payload into
//!   its owner's pages with its checksum and wakes it with `wake_owner`
//!   (no receive ring is bound, so nothing else can wake it); the owner
//!   checks every payload and checksum.

use alloc::format;

use exo_abi::netprobe::{Mode, PORT_DONE, PORT_ECHO_BPF, PORT_ECHO_WASM, PORT_VECTOR, host_param};

use super::{ECHOES, bindings_of, blocked, host, spawn, stats, until};
use crate::envtest::harness::{Cleanup, census, nothing_leaked, passed};
use crate::ktest::TestFailure;
use crate::net::{self, pages};

/// Datagrams of the vectoring test (more than the handler's 16 slots, so
/// the probe must drain them as they come).
const VECTORED: u64 = 24;

/// The address the probes answer ARP for, and the number of bindings
/// that adds (1, or 0 without `net.ip`).
fn arp_address() -> ([u8; 4], usize) {
    match net::boot::ip() {
        Some(ip) => (ip, 1),
        None => ([0; 4], 0),
    }
}

/// An echo handler of `name` answers `ECHOES` datagrams on `port` while
/// its owner stays blocked; the owner then checks the exported counters.
fn echo_while_blocked(mode: Mode, name: &str, port: u16) -> Result<(), TestFailure> {
    let _cleanup = Cleanup;
    let before = census();
    let pins = pages::pinned();
    let (ip, arp) = arp_address();
    let p = spawn(mode, host_param(ECHOES, ip))?;
    until("the probe to bind and block", |k| {
        blocked(k, p) && bindings_of(p).len() == 2 + arp
    })?;
    ensure!(pages::pinned() > pins, "the binding pinned no page");
    host(&format!("echo {port} {ECHOES}"));
    let mut woke = false;
    until("the echoes", |k| {
        woke |= !blocked(k, p);
        stats(p, name).sent >= ECHOES
    })?;
    ensure!(!woke, "the owner ran while its handler answered");
    let s = stats(p, name);
    ensure_eq!(
        (s.matches, s.handler_runs, s.consumed, s.handler_faults),
        (ECHOES, ECHOES, ECHOES, 0)
    );
    ensure_eq!(stats(p, "arp").handler_faults, 0);
    host(&format!("send {PORT_DONE} 1"));
    until("the probe to end", |k| k.envs.get(p).is_none())?;
    passed(p, name)?;
    ensure!(bindings_of(p).is_empty(), "bindings outlived their owner");
    ensure_eq!(pages::pinned(), pins);
    nothing_leaked(before)
}

crate::kernel_test! {
    fn an_ash_echoes_udp_while_its_owner_is_blocked() {
        echo_while_blocked(Mode::EchoBpf, "bpf-echo", PORT_ECHO_BPF)
    }
}

crate::kernel_test! {
    fn a_wasm_handler_echoes_udp_while_its_owner_is_blocked() {
        echo_while_blocked(Mode::EchoWasm, "wasm-echo", PORT_ECHO_WASM)
    }
}

crate::kernel_test! {
    fn a_handler_vectors_payloads_and_wakes_its_blocked_owner() {
        let _cleanup = Cleanup;
        let before = census();
        let pins = pages::pinned();
        let (ip, arp) = arp_address();
        let p = spawn(Mode::Vector, host_param(VECTORED, ip))?;
        until("the probe to bind and block", |k| {
            blocked(k, p) && bindings_of(p).len() == 1 + arp
        })?;
        // Nothing but the handler can wake it: no receive ring.
        let s = stats(p, "vector");
        ensure_eq!((s.matches, s.wakeups), (0, 0));
        host(&format!("pattern {PORT_VECTOR} {VECTORED}"));
        until("every datagram vectored", |_| stats(p, "vector").consumed >= VECTORED)?;
        let s = stats(p, "vector");
        ensure_eq!(
            (s.matches, s.handler_runs, s.consumed, s.handler_faults),
            (VECTORED, VECTORED, VECTORED, 0)
        );
        // One wake_owner per datagram, and no delivery (which would wake
        // it too): the wake-ups are the handler's.
        ensure_eq!((s.wakeups, s.delivered, s.ring_overflows), (VECTORED, 0, 0));
        until("the probe to check the messages and end", |k| k.envs.get(p).is_none())?;
        passed(p, "vector probe")?;
        ensure!(bindings_of(p).is_empty(), "bindings outlived their owner");
        ensure_eq!(pages::pinned(), pins);
        nothing_leaked(before)
    }
}
