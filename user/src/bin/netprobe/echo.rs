//! Handlers that answer while their owner sleeps: the BPF and WebAssembly
//! UDP echoes (with the ARP responder for the probe's address when the
//! test gives one), and a WebAssembly handler that never ends. Each mode
//! binds, blocks until the host's "done" datagram lands in its ring, then
//! checks what the kernel exported about its bindings.

use exo_abi::net::export::{BindingEntry, ENTRY_BPF, ENTRY_WASM};
use exo_abi::net::{DEFAULT_FUEL, RegionPages};
use exo_abi::netprobe::split_host_param;
use exo_user::libos_core::{api as core_api, export as core_export};
use exo_user::println;
use libos_net::api::{self, Bind, BindingId};
use libos_net::export;
use libos_net::ring::{MappedRing, RingReader};

use crate::check::{Check, ok, that};
use crate::{arp, objects, pages};

/// Longest a probe waits for the host's "done" datagram.
const DONE_WAIT_NS: u64 = 120_000_000_000;

pub fn bind(
    n: Check,
    name: &str,
    object: &[u8],
    regions: &[RegionPages],
    fuel: u64,
) -> Result<BindingId, Check> {
    let mut msg = [0u8; 256];
    let b = Bind {
        object,
        name,
        ring: None,
        regions,
        default: false,
        fuel,
    };
    api::bind(&b, &mut msg).map_err(|r| {
        println!(
            "netprobe: check {n}: binding {name} refused: {:?}: {}",
            r.error, r.message
        );
        n
    })
}

/// Blocks until a frame is in `ring`; returns how often `Block` returned.
fn wait_done(n: Check, ring: &mut RingReader<MappedRing>) -> Result<u64, Check> {
    let deadline = core_export::now_ns() + DONE_WAIT_NS;
    let mut buf = [0u8; 2048];
    let mut wakes = 0;
    loop {
        if ring.next(&mut buf).is_some() {
            return Ok(wakes);
        }
        match core_api::block(Some(deadline)) {
            Ok(()) => wakes += 1,
            Err(e) => {
                println!("netprobe: check {n}: no done datagram: {e}");
                return Err(n);
            }
        }
    }
}

pub fn entry(n: Check, b: BindingId) -> Result<BindingEntry, Check> {
    export::binding(b.0).ok_or_else(|| {
        println!(
            "netprobe: check {n}: binding {} is not in the exported table",
            b.0
        );
        n
    })
}

fn report(engine: &str, e: &BindingEntry, wakes: u64, arp_replies: u64) {
    println!(
        "netprobe: ECHO engine={engine} matches={} runs={} consumed={} sent={} faults={} cycles={} wakes={wakes} arp_replies={arp_replies}",
        e.matches, e.handler_runs, e.consumed, e.sent, e.handler_faults, e.handler_cycles
    );
}

/// `EchoBpf`: the BPF echo, its `reply` region in this program's page
/// (`param`: [`exo_abi::netprobe::host_param`]).
pub fn bpf(param: u64) -> Result<(), Check> {
    let (expected, ip) = split_host_param(param);
    let arp = arp::bind(10, ip)?;
    let region = ok(1, "region page", pages::alloc(1))?;
    let regions = [RegionPages {
        vaddr: region,
        pages: 1,
    }];
    let echo = bind(2, "bpf-echo", objects::UDP_ECHO, &regions, 0)?;
    let (_done, mut ring) = pages::bind_ring(3, "done", objects::RING_DONE, &[], 0)?;
    println!("netprobe: bound the BPF echo; blocking");
    let wakes = wait_done(4, &mut ring)?;
    let e = entry(5, echo)?;
    report("bpf", &e, wakes, arp::replies(arp));
    that(6, "a BPF handler", e.flags & ENTRY_BPF != 0)?;
    that(
        7,
        "every datagram echoed by the handler",
        e.handler_runs == expected && e.consumed == expected && e.sent == expected,
    )?;
    that(8, "no handler fault", e.handler_faults == 0)?;
    // The handler built each reply in this program's own page: the last
    // one is still there (an IPv4/UDP frame from port 7).
    let mut head = [0u8; 42];
    for (i, b) in head.iter_mut().enumerate() {
        // SAFETY: `region` is a page this program mapped readable (above).
        *b = unsafe { core::ptr::read_volatile((region as usize + i) as *const u8) };
    }
    that(
        9,
        "the last reply is in the region",
        head[12..14] == [0x08, 0x00] && head[34..36] == 7u16.to_be_bytes(),
    )?;
    Ok(())
}

/// `EchoWasm`: the WebAssembly echo (`param` as for [`bpf`]).
pub fn wasm(param: u64) -> Result<(), Check> {
    let (expected, ip) = split_host_param(param);
    let arp = arp::bind(8, ip)?;
    let echo = bind(1, "wasm-echo", objects::WASM_ECHO, &[], 0)?;
    let (_done, mut ring) = pages::bind_ring(2, "done", objects::RING_DONE, &[], 0)?;
    println!("netprobe: bound the WebAssembly echo; blocking");
    let wakes = wait_done(3, &mut ring)?;
    let e = entry(4, echo)?;
    report("wasm", &e, wakes, arp::replies(arp));
    that(
        5,
        "a WebAssembly handler with the default fuel",
        e.flags & ENTRY_WASM != 0 && e.fuel == DEFAULT_FUEL,
    )?;
    that(
        6,
        "every datagram echoed by the handler",
        e.handler_runs == expected && e.consumed == expected && e.sent == expected,
    )?;
    that(7, "no handler fault", e.handler_faults == 0)?;
    Ok(())
}

/// Fuel for the spinning handler (small: each frame burns all of it).
pub const SPIN_FUEL: u64 = 20_000;

/// `FuelSpin`: `param` = spinning frames | echoes << 16.
pub fn fuel_spin(param: u64) -> Result<(), Check> {
    let (spins, echoes) = (param & 0xFFFF, param >> 16 & 0xFFFF);
    let faults_before = export::header().counters.handler_fault;
    let spin = bind(1, "wasm-spin", objects::WASM_SPIN, &[], SPIN_FUEL)?;
    let echo = bind(2, "wasm-echo", objects::WASM_ECHO, &[], 0)?;
    let (_done, mut ring) = pages::bind_ring(3, "done", objects::RING_DONE, &[], 0)?;
    println!("netprobe: bound the spinning handler; blocking");
    let wakes = wait_done(4, &mut ring)?;
    let s = entry(5, spin)?;
    let e = entry(6, echo)?;
    report("wasm-spin", &s, wakes, 0);
    that(
        7,
        "every spinning run faulted and nothing was consumed",
        s.handler_runs == spins
            && s.handler_faults == spins
            && s.consumed == 0
            && s.fuel == SPIN_FUEL,
    )?;
    that(
        8,
        "the interface counted the faults",
        export::header().counters.handler_fault - faults_before == spins,
    )?;
    that(
        9,
        "the echo next to it kept working",
        e.handler_runs == echoes && e.sent == echoes && e.handler_faults == 0,
    )?;
    Ok(())
}
