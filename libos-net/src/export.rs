//! The network counters and the binding list the kernel exports read-only
//! at `exo_abi::layout::NET_EXPORT` (`exo_abi::net::export`): interface
//! counters, and per binding its owner, name, engine and counters. Values
//! change whenever this program does not run, so every read is a volatile
//! copy.

use exo_abi::layout::NET_EXPORT;
use exo_abi::net::export::{
    BindingEntry, ENTRIES_OFFSET, ENTRY_LIVE, MAX_BINDINGS, NetExportHeader,
};

/// Copies a `T` from exported address `addr`.
///
/// # Safety
/// `addr` must hold a `T` in the network export pages.
unsafe fn read<T: Copy>(addr: u64) -> T {
    // SAFETY: guaranteed by the caller; the exported types are plain
    // integers and byte arrays, valid for any bits.
    unsafe { core::ptr::read_volatile(addr as *const T) }
}

/// The header (magic, bindings live, generation, MAC, interface
/// counters). `magic` is 0 on a kernel without a network subsystem.
pub fn header() -> NetExportHeader {
    // SAFETY: NET_EXPORT holds the header in every environment (mapped
    // read-only by the kernel at boot).
    unsafe { read(NET_EXPORT) }
}

/// The entry of binding `id` (`None` past the table or when the slot is
/// free).
pub fn binding(id: u32) -> Option<BindingEntry> {
    if id as usize >= MAX_BINDINGS || header().magic != exo_abi::net::export::MAGIC {
        return None;
    }
    let addr =
        NET_EXPORT + ENTRIES_OFFSET + u64::from(id) * core::mem::size_of::<BindingEntry>() as u64;
    // SAFETY: the table has MAX_BINDINGS entries from ENTRIES_OFFSET.
    let e: BindingEntry = unsafe { read(addr) };
    (e.flags & ENTRY_LIVE != 0).then_some(e)
}

/// Every installed binding, with its id.
pub fn bindings() -> impl Iterator<Item = (u32, BindingEntry)> {
    (0..MAX_BINDINGS as u32).filter_map(|i| binding(i).map(|e| (i, e)))
}

/// A binding entry's name as text.
pub fn name(e: &BindingEntry) -> &str {
    let n = e.name.iter().position(|&c| c == 0).unwrap_or(e.name.len());
    core::str::from_utf8(&e.name[..n]).unwrap_or("?")
}
