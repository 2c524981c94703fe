//! Transmits the kernel must refuse: a source port another environment is
//! bound to, a forged source MAC, an ARP frame for an address this
//! program never bound; and one it must send.

use exo_abi::Error;
use exo_abi::netprobe::{PORT_RING_A, PORT_SPOOF};
use exo_user::println;
use libos_net::api;
use libos_net::export;
use libos_net::frame::csum;

use crate::check::{Check, ok, refused, that};
use crate::objects;
use crate::pages;

/// A valid Ethernet/IPv4/UDP frame from `mac`, 10.0.2.15:`sport` to the
/// user-networking gateway's discard port.
fn udp(mac: [u8; 6], sport: u16) -> [u8; 50] {
    let mut f = [0u8; 50];
    f[0..6].fill(0xFF);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&36u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 2, 15]);
    f[30..34].copy_from_slice(&[10, 0, 2, 2]);
    let c = !csum(&f[14..34], 0);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[38..40].copy_from_slice(&16u16.to_be_bytes());
    f[42..50].copy_from_slice(b"exo-test");
    f
}

pub fn run() -> Result<(), Check> {
    let (_id, _ring) = pages::bind_ring(1, "spoof", objects::RING_SPOOF, &[], 0)?;
    let h = export::header();
    let mac: [u8; 6] = h.mac[..6].try_into().unwrap_or([0; 6]);
    that(2, "the NIC's MAC is exported", mac != [0; 6])?;
    let before = h.counters;
    refused(
        3,
        "a source port another environment binds",
        api::transmit(&udp(mac, PORT_RING_A)),
        Error::SourceNotBound,
    )?;
    let mut forged = udp(mac, PORT_SPOOF);
    forged[11] ^= 1;
    refused(
        4,
        "a forged source MAC",
        api::transmit(&forged),
        Error::SourceNotBound,
    )?;
    let mut arp = [0u8; 42];
    arp[0..6].fill(0xFF);
    arp[6..12].copy_from_slice(&mac);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    arp[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp[22..28].copy_from_slice(&mac);
    arp[28..32].copy_from_slice(&[10, 0, 2, 15]);
    arp[38..42].copy_from_slice(&[10, 0, 2, 2]);
    refused(
        5,
        "an ARP request for an address never bound",
        api::transmit(&arp),
        Error::SourceNotBound,
    )?;
    ok(
        6,
        "a frame from the bound port",
        api::transmit(&udp(mac, PORT_SPOOF)),
    )?;
    let after = export::header().counters;
    that(
        7,
        "three refusals counted",
        after.tx_refused - before.tx_refused == 3,
    )?;
    that(8, "one frame sent", after.tx_frames > before.tx_frames)?;
    println!("netprobe: SPOOF refused=3 sent=1");
    Ok(())
}
