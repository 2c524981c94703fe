//! Receive rings read from user space: two environments with disjoint
//! filters echo their own traffic through the transmit filter, a third
//! must be granted its overlap, and a bystander keeps running while the
//! host floods the NIC.

use core::sync::atomic::{AtomicU32, Ordering};

use exo_abi::netprobe::{self, Mode, PORT_RING_A, PROC_GRANT_ME, PROC_REVOKE_ME};
use exo_abi::{EnvId, Error};
use exo_user::libos_core::lrpc::{self, CallError};
use exo_user::libos_core::{api as core_api, export as core_export};
use exo_user::{Start, println};
use libos_net::api::{self, Bind, BindingId};
use libos_net::frame;

use crate::check::{Check, ok, refused, that};
use crate::objects;
use crate::pages;

/// The ring binding the grant procedure grants overlaps of.
static RING_BINDING: AtomicU32 = AtomicU32::new(u32::MAX);

/// `PROC_GRANT_ME`: lets the caller overlap this program's ring binding.
fn grant_me(caller: EnvId, _a: [u64; 4]) -> Result<[u64; 4], u64> {
    let b = BindingId(RING_BINDING.load(Ordering::Acquire));
    match api::grant(b, caller) {
        Ok(()) => Ok([0; 4]),
        Err(e) => Ok([e.code(), 0, 0, 0]),
    }
}

/// `PROC_REVOKE_ME`: withdraws that permission again.
fn revoke_me(caller: EnvId, _a: [u64; 4]) -> Result<[u64; 4], u64> {
    let b = BindingId(RING_BINDING.load(Ordering::Acquire));
    match api::revoke_grant(b, caller) {
        Ok(()) => Ok([0; 4]),
        Err(e) => Ok([e.code(), 0, 0, 0]),
    }
}

/// Latency samples (ns): arrival to read, arrival to the reply's send.
struct Samples {
    read: [u64; 256],
    reply: [u64; 256],
    n: usize,
}

fn median(v: &mut [u64]) -> (u64, u64) {
    v.sort_unstable();
    (
        v.first().copied().unwrap_or(0),
        v.get(v.len() / 2).copied().unwrap_or(0),
    )
}

/// `RingEcho`.
pub fn ring_echo(param: u64) -> Result<(), Check> {
    let (index, count, overlap) = (param & 0xFF, param >> 8 & 0xFFFF, param >> 24 & 1 == 1);
    let port = PORT_RING_A + index as u16;
    let object = if index == 0 {
        objects::RING_A
    } else {
        objects::RING_B
    };
    let (id, mut ring) = pages::bind_ring(1, "ring-echo", object, &[], 0)?;
    RING_BINDING.store(id.0, Ordering::Release);
    let child = if overlap {
        // Exporting re-declares the upcalls with end-of-slice: decline it
        // again (see `decline_slice_end`).
        ok(
            2,
            "exporting the grant procedure",
            lrpc::export(PROC_GRANT_ME as usize, grant_me)
                .and_then(|()| lrpc::export(PROC_REVOKE_ME as usize, revoke_me))
                .and_then(|()| crate::decline_slice_end()),
        )?;
        Some(ok(
            3,
            "spawning the overlapper",
            core_api::spawn("netprobe", Mode::Overlapper.arg(u64::from(port))),
        )?)
    } else {
        None
    };
    println!(
        "netprobe: ring on UDP port {port} bound as binding {}; waiting for {count} datagrams",
        id.0
    );
    let mut s = Samples {
        read: [0; 256],
        reply: [0; 256],
        n: 0,
    };
    let mut buf = [0u8; 2048];
    let mut echoed = 0u64;
    let give_up = core_export::now_ns() + 120_000_000_000;
    loop {
        while let Some(f) = ring.next(&mut buf) {
            let read_at = core_export::now_ns();
            let udp = frame::parse_udp(&buf[..f.len]).ok_or_else(|| {
                println!("netprobe: check 4: a frame that is not UDP reached ring {port}");
                4u64
            })?;
            that(5, "only frames for this ring's port", udp.dst_port == port)?;
            let n = ok(
                6,
                "building the echo",
                frame::echo_in_place(&mut buf[..f.len]).ok_or(Error::InvalidArgument),
            )?;
            ok(7, "transmitting the echo", api::transmit(&buf[..n]))?;
            let sent_at = core_export::now_ns();
            if s.n < s.read.len() {
                s.read[s.n] = read_at.saturating_sub(f.arrival_ns);
                s.reply[s.n] = sent_at.saturating_sub(f.arrival_ns);
                s.n += 1;
            }
            echoed += 1;
        }
        let child_done = child.is_none_or(|c| core_export::env_by_id(c).is_none());
        if echoed >= count && child_done {
            break;
        }
        if core_export::now_ns() > give_up {
            println!(
                "netprobe: check 8: {echoed} of {count} datagrams, overlapper done: {child_done}"
            );
            return Err(8);
        }
        let _ = core_api::block(Some(core_export::now_ns() + 10_000_000));
    }
    that(9, "no ring overflow", ring.overflows() == 0)?;
    let n = s.n;
    let (rmin, rmed) = median(&mut s.read[..n]);
    let (pmin, pmed) = median(&mut s.reply[..n]);
    println!(
        "netprobe: RINGLAT port={port} count={n} read_min={rmin} read_median={rmed} reply_min={pmin} reply_median={pmed}"
    );
    Ok(())
}

/// `Overlapper`: binds its parent's port, refused until granted.
pub fn overlapper(start: Start, port: u64) -> Result<(), Check> {
    let object = if port == u64::from(PORT_RING_A) {
        objects::RING_A
    } else {
        objects::RING_B
    };
    let ring = ok(1, "ring pages", pages::alloc(pages::RING_PAGES as usize))?;
    let mut msg = [0u8; 256];
    let b = Bind {
        object,
        name: "overlap",
        ring: Some((ring, pages::RING_PAGES)),
        regions: &[],
        default: false,
        fuel: 0,
    };
    match api::bind(&b, &mut msg) {
        Err(r) if r.error == Error::FilterConflict && r.message.contains("grant") => {
            println!("netprobe: overlap refused as expected: {}", r.message)
        }
        other => {
            println!(
                "netprobe: check 2: an overlapping bind gave {:?}",
                other.map_err(|r| r.error)
            );
            return Err(2);
        }
    }
    let reply = loop {
        match lrpc::call(start.parent, PROC_GRANT_ME, [0; 4]) {
            Err(CallError::Kernel(Error::NoEntryPoint)) => {
                let _ = core_api::yield_to(Some(start.parent));
            }
            r => break r,
        }
    };
    that(
        3,
        "the owner granted the overlap",
        matches!(reply, Ok([0, ..])),
    )?;
    let id = api::bind(&b, &mut msg).map_err(|r| {
        println!(
            "netprobe: check 4: bind after the grant refused: {:?}: {}",
            r.error, r.message
        );
        4u64
    })?;
    // The grant covers the granter's binding only: all of UDP also
    // overlaps the other ring, whose owner granted nothing.
    let all = Bind {
        object: objects::ALL_UDP,
        name: "all-udp",
        ..b
    };
    let r = api::bind(&all, &mut msg).map(|b| b.0).map_err(|r| r.error);
    refused(
        5,
        "all of UDP overlaps the other ring",
        r,
        Error::FilterConflict,
    )?;
    that(
        6,
        "the granted binding is live in the export",
        libos_net::export::binding(id.0).is_some(),
    )?;
    // Visible revocation: the owner withdraws the grant and the kernel
    // breaks the binding that depended on it.
    let reply = lrpc::call(start.parent, PROC_REVOKE_ME, [0; 4]);
    that(
        7,
        "the owner revoked the grant",
        matches!(reply, Ok([0, ..])),
    )?;
    that(
        8,
        "the revoked binding is gone from the export",
        libos_net::export::binding(id.0).is_none(),
    )?;
    refused(
        9,
        "unbinding a binding the revocation broke",
        api::unbind(id),
        Error::NoSuchBinding,
    )?;
    let r = api::bind(&b, &mut msg).map(|b| b.0).map_err(|r| r.error);
    refused(
        10,
        "binding again without the grant",
        r,
        Error::FilterConflict,
    )?;
    println!("netprobe: overlap accepted after the grant, broken by its revocation");
    Ok(())
}

/// `Bystander`: drains its ring forever, blocking briefly between checks.
pub fn bystander() -> Result<(), Check> {
    let (_id, mut ring) = pages::bind_ring(1, "bystander", objects::BYSTANDER, &[], 0)?;
    println!(
        "netprobe: bystander bound to EtherType {:#06x}",
        netprobe::ETHERTYPE_BYSTANDER
    );
    let mut buf = [0u8; 2048];
    let mut seen = 0u64;
    loop {
        while ring.next(&mut buf).is_some() {
            seen += 1;
        }
        let _ = core_api::null();
        let _ = core_api::block(Some(core_export::now_ns() + 500_000));
        if seen == u64::MAX {
            return Ok(());
        }
    }
}
