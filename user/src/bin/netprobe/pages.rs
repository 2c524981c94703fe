//! Pages for rings and regions (owned, mapped writable, never given back
//! on revocation: the kernel pins them while bound), and a ring reader
//! over them.

use exo_abi::MapFlags;
use exo_abi::net::RegionPages;
use exo_user::libos_core::rt;
use exo_user::libos_core::vm::PageClass;
use exo_user::println;
use libos_net::api::{self, Bind, BindingId};
use libos_net::ring::{MappedRing, RingReader};

use crate::check::Check;

/// Pages of every ring this program binds (15 pages of slots: 30 frames).
pub const RING_PAGES: u64 = 16;

/// `count` fresh pages.
pub fn alloc(count: usize) -> Result<u64, exo_abi::Error> {
    rt::with_vm(|vm, mmu| vm.alloc(mmu, count, MapFlags::WRITE, PageClass::Pinned))
}

/// Binds `object` named `name` with a fresh ring (and `regions`); returns
/// the binding and a reader of its ring.
pub fn bind_ring(
    n: Check,
    name: &str,
    object: &[u8],
    regions: &[RegionPages],
    fuel: u64,
) -> Result<(BindingId, RingReader<MappedRing>), Check> {
    let ring = alloc(RING_PAGES as usize).map_err(|e| {
        println!("netprobe: check {n}: no ring pages: {e}");
        n
    })?;
    let mut msg = [0u8; 256];
    let b = Bind {
        object,
        name,
        ring: Some((ring, RING_PAGES)),
        regions,
        default: false,
        fuel,
    };
    let id = api::bind(&b, &mut msg).map_err(|r| {
        println!(
            "netprobe: check {n}: binding {name} refused: {:?}: {}",
            r.error, r.message
        );
        n
    })?;
    // SAFETY: the ring's pages stay mapped (pinned VM pages, never freed)
    // for the program's life, and nothing else refers to them.
    let mem = unsafe { MappedRing::new(ring, RING_PAGES as usize * 4096) };
    let reader = RingReader::new(mem, RING_PAGES as usize * 4096).map_err(|e| {
        println!("netprobe: check {n}: ring of {name}: {e:?}");
        n
    })?;
    Ok((id, reader))
}
