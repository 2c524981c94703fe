//! The ARP responder every probe the host talks to binds for its address
//! (`libos_net::arp`): on a tap the host must resolve the guest's address
//! before its first datagram, and the answer comes from this binding's
//! handler while the probe is blocked. Two pages: the reply being built
//! and the probe's identity (the NIC's MAC, the address).

use exo_abi::net::RegionPages;
use exo_user::println;
use libos_net::api::{self, Bind, BindingId};
use libos_net::arp::{self, Responder};
use libos_net::export;

use crate::check::Check;
use crate::pages;

/// Binds the ARP responder for `ip`; `None` when `ip` is 0 (the test
/// gave no address).
pub fn bind(n: Check, ip: [u8; 4]) -> Result<Option<BindingId>, Check> {
    if ip == [0; 4] {
        return Ok(None);
    }
    let fail = |what: &str| {
        println!("netprobe: check {n}: ARP responder: {what}");
        n
    };
    let responder = Responder::new(ip).map_err(|_| fail("cannot build the object"))?;
    let mac: [u8; 6] = export::header().mac[..6]
        .try_into()
        .map_err(|_| fail("no MAC"))?;
    let reply = pages::alloc(1).map_err(|_| fail("no page for the reply"))?;
    let me = pages::alloc(1).map_err(|_| fail("no page for the identity"))?;
    for (i, b) in arp::identity(mac, ip).into_iter().enumerate() {
        // SAFETY: `me` is a page this program just mapped writable; the
        // handler only reads it once bound.
        unsafe { core::ptr::write_volatile((me as usize + i) as *mut u8, b) };
    }
    let regions = [
        RegionPages {
            vaddr: reply,
            pages: 1,
        },
        RegionPages {
            vaddr: me,
            pages: 1,
        },
    ];
    let mut msg = [0u8; 256];
    let b = Bind {
        object: responder.object(),
        name: "arp",
        ring: None,
        regions: &regions,
        default: false,
        fuel: 0,
    };
    let id = api::bind(&b, &mut msg).map_err(|r| {
        println!(
            "netprobe: check {n}: ARP responder refused: {:?}: {}",
            r.error, r.message
        );
        n
    })?;
    Ok(Some(id))
}

/// Replies the responder `id` sent so far (0 without one).
pub fn replies(id: Option<BindingId>) -> u64 {
    id.and_then(|b| export::binding(b.0)).map_or(0, |e| e.sent)
}
