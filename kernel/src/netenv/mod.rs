//! In-QEMU tests of secure packet bindings by environments, run by the
//! `net-env-tests` scenario (its own boot, with a NIC whose UDP ports the
//! host reaches, and a host driver). Each test spawns `netprobe`
//! environments (`user/src/bin/netprobe`, protocol in
//! `exo_abi::netprobe`), asks the host for traffic with a `NETTEST` line
//! on the console (`NETTEST echo PORT N`: send N datagrams to guest port
//! PORT and check each echo; `NETTEST send PORT N`: send N datagrams),
//! runs the kernel loop while the traffic is handled, and checks what the
//! probes report (their exit code), what the kernel saw (binding counters,
//! the owner's run state, faults), and that every frame, pin and binding
//! came back (census).
//!
//! The tests in [`asleep`] (handlers that serve the host while their
//! owner is blocked: the BPF and WebAssembly echoes, vectoring with
//! `wake_owner`) run in their own scenario, `net-asleep`, on a host tap
//! device when the host can make one and on user networking otherwise;
//! their probes answer ARP for the address of `net.ip` (`net::boot::ip`).
//! The others run in `net-env-tests` on user networking.

pub mod asleep;

use alloc::format;
use alloc::vec::Vec;

use exo_abi::EnvId;
use exo_abi::netprobe::{
    Mode, PORT_DONE, PORT_ECHO_WASM, PORT_PROGRAM, PORT_RING_A, PORT_RING_B, PORT_SPIN,
    PROGRAM_MIN_LEN, pattern_len, ring_param,
};

use crate::env::{Kernel, RunState, with_kernel};
use crate::envtest::harness::{Cleanup, census, nothing_leaked, passed};
use crate::ktest::TestFailure;
use crate::net::binding::BindingStats;
use crate::net::handler::HandlerFault;
use crate::net::hooks::OwnerId;
use crate::net::{self, pages};
use crate::sched;

/// Guest time one step may take (the host is slow to react under TCG).
const STEP_LIMIT_NS: u64 = 60_000_000_000;
/// Datagrams per echo test.
const ECHOES: u64 = 24;

fn spawn(mode: Mode, param: u64) -> Result<EnvId, TestFailure> {
    with_kernel(|k| k.spawn("netprobe", mode.arg(param), EnvId::NONE, None))
        .map_err(|e| TestFailure::new(format!("spawning netprobe {mode:?}: {e}")))
}

fn until(what: &str, done: impl FnMut(&mut Kernel) -> bool) -> Result<(), TestFailure> {
    sched::run_until(done, STEP_LIMIT_NS)
        .map_err(|e| TestFailure::new(format!("waiting for {what}: {e}")))
}

/// Asks the host driver for traffic.
fn host(cmd: &str) {
    crate::kprintln!("NETTEST {cmd}");
}

fn blocked(k: &Kernel, id: EnvId) -> bool {
    matches!(
        k.envs.get(id).map(|e| e.state),
        Some(RunState::Blocked { .. })
    )
}

/// `(name, stats)` of `id`'s bindings.
fn bindings_of(id: EnvId) -> Vec<(alloc::string::String, BindingStats)> {
    net::list()
        .into_iter()
        .filter(|b| b.owner == OwnerId(id.0))
        .map(|b| (b.name, b.stats))
        .collect()
}

fn stats(id: EnvId, name: &str) -> BindingStats {
    bindings_of(id)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_default()
}

crate::kernel_test! {
    fn disjoint_rings_get_only_their_traffic_and_overlaps_need_a_grant() {
        let _cleanup = Cleanup;
        let before = census();
        let a = spawn(Mode::RingEcho, ring_param(0, ECHOES, true))?;
        let b = spawn(Mode::RingEcho, ring_param(1, ECHOES, false))?;
        let mut overlapper = None;
        until("both rings bound and the overlapper done", |k| {
            if overlapper.is_none() {
                overlapper = k.envs.iter().find(|e| e.parent == a).map(|e| e.id);
            }
            let done = overlapper.is_some_and(|o| k.envs.get(o).is_none());
            done && blocked(k, b) && bindings_of(a).len() == 1 && bindings_of(b).len() == 1
        })?;
        let o = overlapper.ok_or("the overlapper never started")?;
        passed(o, "overlapper (refused, granted, accepted)")?;
        host(&format!("echo {PORT_RING_A} {ECHOES}"));
        host(&format!("echo {PORT_RING_B} {ECHOES}"));
        until("both ring probes to end", |k| k.envs.get(a).is_none() && k.envs.get(b).is_none())?;
        passed(a, "ring A")?;
        passed(b, "ring B")?;
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn spoofed_transmits_are_refused_and_counted() {
        let _cleanup = Cleanup;
        let before = census();
        let refused = net::counters().tx_refused;
        let p = spawn(Mode::Spoof, 0)?;
        until("the spoofer to end", |k| k.envs.get(p).is_none())?;
        passed(p, "spoofer")?;
        ensure_eq!(net::counters().tx_refused - refused, 3);
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn an_out_of_fuel_wasm_handler_is_contained_and_counted() {
        let _cleanup = Cleanup;
        let before = census();
        let (spins, echoes) = (6u64, 4u64);
        let faults = net::counters().handler_fault;
        let p = spawn(Mode::FuelSpin, spins | echoes << 16)?;
        until("the probe to bind and block", |k| blocked(k, p) && bindings_of(p).len() == 3)?;
        host(&format!("send {PORT_SPIN} {spins}"));
        until("the spinning runs", |_| stats(p, "wasm-spin").handler_faults >= spins)?;
        let kind = net::list()
            .into_iter()
            .find(|b| b.owner == OwnerId(p.0) && b.name == "wasm-spin")
            .map(|b| b.id)
            .and_then(|id| net::with_binding(id, |b| b.last_fault.clone()))
            .flatten();
        ensure_eq!(kind, Some(HandlerFault::OutOfFuel));
        ensure_eq!(net::counters().handler_fault - faults, spins);
        ensure!(with_kernel(|k| blocked(k, p)), "a faulting handler disturbed its owner");
        host(&format!("echo {PORT_ECHO_WASM} {echoes}"));
        until("the echoes next to it", |_| stats(p, "wasm-echo").sent >= echoes)?;
        host(&format!("send {PORT_DONE} 1"));
        until("the probe to end", |k| k.envs.get(p).is_none())?;
        passed(p, "fuel probe")?;
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn hostile_arguments_to_every_network_call_are_refused() {
        let _cleanup = Cleanup;
        let before = census();
        let pins = pages::pinned();
        let p = spawn(Mode::Hostile, 0)?;
        until("the hostile probe to end", |k| k.envs.get(p).is_none())?;
        passed(p, "hostile probe")?;
        ensure_eq!(pages::pinned(), pins);
        ensure!(bindings_of(p).is_empty(), "a binding survived its owner");
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn killing_an_owner_removes_its_bindings_and_unpins_its_pages() {
        let _cleanup = Cleanup;
        let before = census();
        let pins = pages::pinned();
        let p = spawn(Mode::EchoBpf, ECHOES)?;
        until("the probe to bind and block", |k| blocked(k, p) && bindings_of(p).len() == 2)?;
        ensure!(pages::pinned() > pins, "nothing pinned");
        // While bound, the owner cannot free a pinned frame.
        let frame = net::list()
            .into_iter()
            .find(|b| b.owner == OwnerId(p.0))
            .and_then(|b| net::with_binding(b.id, |x| x.pins.first().copied()))
            .flatten()
            .ok_or("the binding has no pinned frame")?;
        let freed = with_kernel(|k| k.frame_free(p, frame.index() as u64));
        ensure_eq!(freed, Err(exo_abi::Error::FramePinned));
        with_kernel(|k| k.end(p, crate::env::ExitStatus::Killed(crate::env::KillReason::ByKernel)));
        ensure!(bindings_of(p).is_empty(), "bindings survived the kill");
        ensure_eq!(pages::pinned(), pins);
        nothing_leaked(before)
    }
}

crate::kernel_test! {
    fn a_filter_program_takes_only_the_unclaimed_frames_it_accepts() {
        let _cleanup = Cleanup;
        let before = census();
        // Two rounds of the pattern's sizes: the long ones are the
        // program's, the short ones nobody's.
        let sent = 12u64;
        let long = (0..sent).filter(|&s| 42 + pattern_len(s) > PROGRAM_MIN_LEN).count() as u64;
        ensure!(long > 0 && long < sent, "the pattern must have both lengths");
        let p = spawn(Mode::ProgramRing, long)?;
        until("the probe to bind and block", |k| blocked(k, p) && bindings_of(p).len() == 1)?;
        let unclaimed = net::counters().unclaimed;
        host(&format!("pattern {PORT_PROGRAM} {sent}"));
        until("the probe to end", |k| k.envs.get(p).is_none())?;
        passed(p, "filter-program ring")?;
        ensure!(
            net::counters().unclaimed - unclaimed >= sent - long,
            "the short datagrams were not counted unclaimed"
        );
        nothing_leaked(before)
    }
}
