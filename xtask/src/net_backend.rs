//! Where the NIC of a scenario that prefers a tap connects: a fresh host
//! tap device when xtask runs as root and can make one (`crate::tap`),
//! QEMU user networking with the scenario's forwarded ports otherwise.
//! The choice decides the guest's address (`net.ip`, `net.gateway` on the
//! kernel command line) and is named in every result of the scenario
//! (`[tap]` or `[user]`); a fallback also records a SKIP line saying why
//! the tap was not used.

use std::net::Ipv4Addr;

use crate::qemu::Net;
use crate::tap::{TapDevice, TapError};

/// The guest's address and gateway under QEMU user networking.
pub const USER_GUEST: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
pub const USER_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// The backend a scenario runs on.
pub struct Backend {
    pub net: Net,
    /// `net.ip=... net.gateway=...` for the kernel command line.
    pub cmdline: String,
    /// `tap` or `user`, for result names.
    pub label: &'static str,
    /// Why the tap was not used (a fallback).
    pub fallback: Option<TapError>,
    /// The tap, deleted when the backend is dropped.
    pub tap: Option<TapDevice>,
}

fn addresses(guest: Ipv4Addr, gateway: Ipv4Addr) -> String {
    format!("net.ip={guest} net.gateway={gateway}")
}

/// User networking on `user` (its forwards), as is.
pub fn user(user: Net) -> Backend {
    Backend {
        net: user,
        cmdline: addresses(USER_GUEST, USER_GATEWAY),
        label: "user",
        fallback: None,
        tap: None,
    }
}

/// A fresh tap if possible, else `user`.
pub fn prefer_tap(user_net: Net) -> Backend {
    match TapDevice::for_test() {
        Ok(tap) => Backend {
            net: Net::Tap {
                ifname: tap.name().to_string(),
                guest: tap.guest(),
            },
            cmdline: addresses(tap.guest(), tap.host()),
            label: "tap",
            fallback: None,
            tap: Some(tap),
        },
        Err(e) => Backend {
            fallback: Some(e),
            ..user(user_net)
        },
    }
}
