//! `Vector`: control initiation end to end. The probe binds the vectoring
//! handler (`examples/vector_payload.exo`) with its slot ring and index in
//! its own pages and **no receive ring**, then blocks. For each datagram
//! the handler copies the payload into a slot, computing its checksum in
//! the same pass, publishes it and calls `wake_owner`: with no ring bound
//! (and an ARP responder that never wakes anyone), only the handler can
//! wake the probe. The probe checks every payload byte against the
//! pattern the host sent (`exo_abi::netprobe::pattern_byte`), every
//! checksum against its own sum of the bytes in its page, and, from the
//! exported counters, that each datagram was consumed by the handler and
//! woke it once.

use exo_abi::net::RegionPages;
use exo_abi::netprobe::{pattern_byte, pattern_len, split_host_param};
use exo_user::libos_core::{api as core_api, export as core_export};
use exo_user::println;
use libos_net::frame::csum;

use crate::check::{Check, ok, that};
use crate::echo::{bind, entry};
use crate::{arp, objects, pages};

/// The handler's slot ring (`region ring: bytes[32768]`).
const SLOTS: u64 = 16;
const SLOT_SIZE: u64 = 2048;
const RING_PAGES: u64 = SLOTS * SLOT_SIZE / 4096;
/// Index words (`region meta: u32[34]`): head, tail, lengths, sums.
const HEAD: u64 = 0;
const TAIL: u64 = 1;
const LENGTHS: u64 = 2;
const SUMS: u64 = 2 + SLOTS;

/// Longest the probe waits for the next datagram.
const WAIT_NS: u64 = 120_000_000_000;

fn word(meta: u64, i: u64) -> u32 {
    // SAFETY: `meta` is the probe's own mapped page and `i` < 34.
    unsafe { core::ptr::read_volatile((meta + 4 * i) as *const u32) }
}

fn byte(addr: u64) -> u8 {
    // SAFETY: `addr` lies in the probe's own mapped slot ring.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

/// Checks message `seq` in its slot.
fn check_message(ring: u64, meta: u64, seq: u64) -> Result<(), Check> {
    let slot = seq % SLOTS;
    let len = word(meta, LENGTHS + slot) as usize;
    let want = pattern_len(seq);
    if len != want {
        println!("netprobe: check 7: message {seq}: {len} bytes, expected {want}");
        return Err(7);
    }
    let base = ring + slot * SLOT_SIZE;
    let mut payload = [0u8; SLOT_SIZE as usize];
    for (j, b) in payload[..len].iter_mut().enumerate() {
        *b = byte(base + j as u64);
    }
    if let Some(j) = (0..len).find(|&j| payload[j] != pattern_byte(seq, j as u64)) {
        println!(
            "netprobe: check 8: message {seq}: byte {j} is {:#x}, the host sent {:#x}",
            payload[j],
            pattern_byte(seq, j as u64)
        );
        return Err(8);
    }
    let mine = u32::from(csum(&payload[..len], 0));
    let theirs = word(meta, SUMS + slot);
    if mine != theirs {
        println!(
            "netprobe: check 9: message {seq}: the handler's checksum {theirs:#x}, mine {mine:#x}"
        );
        return Err(9);
    }
    Ok(())
}

/// `Vector` (`param`: [`exo_abi::netprobe::host_param`]).
pub fn run(param: u64) -> Result<(), Check> {
    let (count, ip) = split_host_param(param);
    let arp = arp::bind(1, ip)?;
    let ring = ok(2, "slot ring pages", pages::alloc(RING_PAGES as usize))?;
    let meta = ok(3, "index page", pages::alloc(1))?;
    let regions = [
        RegionPages {
            vaddr: ring,
            pages: RING_PAGES,
        },
        RegionPages {
            vaddr: meta,
            pages: 1,
        },
    ];
    let vector = bind(4, "vector", objects::VECTOR_PAYLOAD, &regions, 0)?;
    println!("netprobe: bound the vectoring handler (no receive ring); blocking");
    let (mut seq, mut wakes) = (0u64, 0u64);
    while seq < count {
        let head = u64::from(word(meta, HEAD));
        if head == seq {
            let deadline = core_export::now_ns() + WAIT_NS;
            if let Err(e) = core_api::block(Some(deadline)) {
                println!("netprobe: check 5: message {seq} of {count} never came: {e}");
                return Err(5);
            }
            wakes += 1;
            continue;
        }
        that(
            6,
            "the handler publishes at most a ring of messages",
            head - seq <= SLOTS,
        )?;
        check_message(ring, meta, seq)?;
        seq += 1;
        // Publish the consumer index: the slot may be reused.
        // SAFETY: the probe's own mapped index page; word 1 is the tail.
        unsafe { core::ptr::write_volatile((meta + 4 * TAIL) as *mut u32, seq as u32) };
    }
    let e = entry(10, vector)?;
    println!(
        "netprobe: VECTOR messages={count} wakes={wakes} handler_wakeups={} consumed={} delivered={} ring_overflows={} faults={} arp_replies={}",
        e.wakeups,
        e.consumed,
        e.delivered,
        e.ring_overflows,
        e.handler_faults,
        arp::replies(arp)
    );
    that(11, "woken at least once", wakes >= 1)?;
    that(
        12,
        "every datagram consumed by the handler, one wake_owner each, nothing delivered",
        e.consumed == count
            && e.wakeups == count
            && e.delivered == 0
            && e.ring_overflows == 0
            && e.handler_faults == 0,
    )?;
    Ok(())
}
