//! The network group of system calls ([`crate::syscall::NET_FIRST`] ..=
//! [`crate::syscall::NET_LAST`]): secure bindings of packets.
//!
//! An environment binds frames with [`NetCall::Bind`]: it hands the kernel
//! an object (`exo-filter compile` output, `docs/OBJECT.md`) holding its
//! filters and an optional handler, the pages of the handler's regions and
//! of a receive ring (pages it owns: the kernel pins them while bound), and
//! a buffer for the kernel's explanation when it refuses. Other calls
//! remove bindings, let the owner of a binding allow a named environment
//! to install overlapping filters, transmit frames through the kernel's
//! transmit filter, and read a binding's filters back.
//!
//! Layouts here: the bind request ([`BindRequest`]), the receive ring
//! ([`ring`]), and the counters the kernel exports read-only at
//! [`crate::layout::NET_EXPORT`] ([`export`]). `docs/ABI.md` and
//! `docs/NET.md` are the prose companions.

/// The calls of the network group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum NetCall {
    /// `(request, size)`: binds frames as described by the [`BindRequest`]
    /// at `request` (`size` = `size_of::<BindRequest>()`). Result: the
    /// binding id.
    Bind = 64,
    /// `(binding)`: removes one of the caller's bindings; its ring and
    /// region pages are unpinned.
    Unbind = 65,
    /// `(binding, env)`: the owner of `binding` allows environment `env` to
    /// install filters that overlap the binding's.
    Grant = 66,
    /// `(binding, env)`: withdraws that permission. The revocation is
    /// visible and immediate: `env`'s bindings that overlap another
    /// owner's binding without a grant are broken (removed, their pages
    /// unpinned, their export entries cleared); later binds are checked
    /// again.
    RevokeGrant = 67,
    /// `(frame, len)`: transmits `len` bytes (14..=1514) at `frame` after
    /// checking them against the caller's transmit filter (see
    /// `docs/NET.md`: a frame may leave only if its mirror image would be
    /// taken by one of the caller's own filters, and its source MAC is the
    /// NIC's).
    Transmit = 68,
    /// `(binding, buf, len)`: writes the wire form (`docs/DSL.md` part 1)
    /// of each filter of any binding into `buf`, each preceded by its
    /// length as a little-endian `u16`. Result: bytes written.
    Filters = 69,
}

impl NetCall {
    /// Every call, in number order.
    pub const ALL: [NetCall; 6] = [
        NetCall::Bind,
        NetCall::Unbind,
        NetCall::Grant,
        NetCall::RevokeGrant,
        NetCall::Transmit,
        NetCall::Filters,
    ];

    /// The call numbered `nr`.
    pub fn from_u64(nr: u64) -> Option<NetCall> {
        Self::ALL.into_iter().find(|c| c.nr() == nr)
    }

    /// The number (the value of `rax`).
    pub const fn nr(self) -> u64 {
        self as u64
    }
}

/// [`BindRequest::flags`]: the binding also receives every frame no
/// filter takes (one environment at a time: the default receiver). Such a
/// binding needs a ring; its object may then be empty (`object_len` 0,
/// no filters).
pub const BIND_DEFAULT: u64 = 1 << 0;
/// Every flag the kernel knows.
pub const BIND_FLAGS: u64 = BIND_DEFAULT;

/// Largest object [`NetCall::Bind`] accepts.
pub const MAX_OBJECT: u64 = 1 << 20;
/// Longest binding name.
pub const MAX_NAME: u64 = 24;
/// Most regions in one request (as in the object format).
pub const MAX_REGIONS: u64 = 64;
/// Most pages of one region or ring.
pub const MAX_PAGES: u64 = 1024;
/// Most bindings with a filter program one environment may have (every
/// frame no atom filter takes is offered to every program in turn); one
/// more is refused with `TooManyBindings`.
pub const MAX_FILTER_PROGRAMS: u64 = 8;
/// Longest message buffer the kernel fills.
pub const MAX_MESSAGE: u64 = 4096;
/// Fuel a WebAssembly handler gets per frame when the request says 0.
pub const DEFAULT_FUEL: u64 = 100_000;
/// Most fuel a request may ask for.
pub const MAX_FUEL: u64 = 10_000_000;
/// Shortest frame [`NetCall::Transmit`] sends (an Ethernet header).
pub const MIN_TX_FRAME: u64 = 14;
/// Longest frame [`NetCall::Transmit`] sends (Ethernet, no FCS or VLAN).
pub const MAX_TX_FRAME: u64 = 1514;

/// Pages of the caller's address space backing one handler region:
/// `pages` pages from the page-aligned `vaddr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RegionPages {
    pub vaddr: u64,
    pub pages: u64,
}

/// What [`NetCall::Bind`] reads from the caller's memory. Every pointer is
/// a user address; lengths are in bytes unless named `pages`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct BindRequest {
    /// The object (at most [`MAX_OBJECT`] bytes).
    pub object: u64,
    pub object_len: u64,
    /// A name for listings (UTF-8, at most [`MAX_NAME`] bytes; may be
    /// empty).
    pub name: u64,
    pub name_len: u64,
    /// The receive ring: `ring_pages` pages (at least 2: the header page
    /// and one page of slots) from the page-aligned `ring`; 0 pages: no
    /// ring. The caller must own every page and map it writable.
    pub ring: u64,
    pub ring_pages: u64,
    /// `region_count` [`RegionPages`] at `regions`, one per region the
    /// handler declares, in id order. The caller must own each page and
    /// map it writable (read-only regions: readable).
    pub regions: u64,
    pub region_count: u64,
    /// Where the kernel writes why it refused the binding (UTF-8, at most
    /// `message_len` bytes, NUL-terminated when there is room); 0 length:
    /// no message.
    pub message: u64,
    pub message_len: u64,
    /// `BIND_*` flags.
    pub flags: u64,
    /// Fuel per frame for a WebAssembly handler (0: [`DEFAULT_FUEL`]; at
    /// most [`MAX_FUEL`]); must be 0 for other handlers.
    pub fuel: u64,
}

/// The receive ring: a header page, then 2 KiB slots, two per page, in the
/// caller's own pages. The kernel writes the header (except `consumer`)
/// and the slots; the library OS writes only `consumer`.
///
/// Slot `n` (counting from 0 over the ring's life) lives at slot index
/// `n % slots`. The ring holds frames `consumer..producer`; it is full
/// when `producer - consumer == slots`, and then the kernel drops the
/// frame and counts it in `overflows`. A `consumer` that is not in
/// `producer - slots ..= producer` (a library OS bug) makes the ring look
/// full until it is fixed; it never makes the kernel write elsewhere.
pub mod ring {
    /// [`RingHeader::magic`]: "EXORING1".
    pub const MAGIC: u64 = u64::from_le_bytes(*b"EXORING1");
    /// Bytes per slot.
    pub const SLOT_SIZE: usize = 2048;
    /// Slots per page.
    pub const SLOTS_PER_PAGE: usize = 4096 / SLOT_SIZE;
    /// Where the slots start (after the header page).
    pub const SLOTS_OFFSET: usize = 4096;
    /// Bytes of frame a slot holds (after its [`SlotHeader`]).
    pub const SLOT_DATA: usize = SLOT_SIZE - core::mem::size_of::<SlotHeader>();
    /// [`SlotHeader::flags`]: the frame came through the default binding
    /// (no filter took it).
    pub const SLOT_UNCLAIMED: u32 = 1 << 0;

    /// The ring's first 64 bytes.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[repr(C)]
    pub struct RingHeader {
        /// [`MAGIC`], written at bind time.
        pub magic: u64,
        /// Number of slots.
        pub slots: u32,
        /// [`SLOT_SIZE`].
        pub slot_size: u32,
        /// Frames written so far (kernel).
        pub producer: u64,
        /// Frames consumed so far (library OS).
        pub consumer: u64,
        /// Frames dropped because the ring was full (kernel).
        pub overflows: u64,
        /// The binding this ring belongs to.
        pub binding: u32,
        pub _pad: u32,
        pub reserved: [u64; 2],
    }

    /// Byte offsets of the header fields (for volatile access).
    pub mod field {
        use super::RingHeader;
        use core::mem::offset_of;
        pub const MAGIC: usize = offset_of!(RingHeader, magic);
        pub const SLOTS: usize = offset_of!(RingHeader, slots);
        pub const PRODUCER: usize = offset_of!(RingHeader, producer);
        pub const CONSUMER: usize = offset_of!(RingHeader, consumer);
        pub const OVERFLOWS: usize = offset_of!(RingHeader, overflows);
    }

    /// The first bytes of each slot; the frame follows.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[repr(C)]
    pub struct SlotHeader {
        /// Frame length in bytes (at most [`SLOT_DATA`]).
        pub len: u32,
        /// `SLOT_*` flags.
        pub flags: u32,
        /// Kernel clock when the frame arrived (RX interrupt or poll).
        pub arrival_ns: u64,
    }

    /// Slots in a ring of `pages` pages (`None` when it has none).
    pub const fn slots_for(pages: u64) -> Option<u32> {
        if pages < 2 || pages > super::MAX_PAGES {
            return None;
        }
        Some(((pages - 1) as usize * SLOTS_PER_PAGE) as u32)
    }

    /// Byte offset, from the ring's start, of slot index `index`.
    pub const fn slot_offset(index: u32) -> usize {
        SLOTS_OFFSET + index as usize * SLOT_SIZE
    }

    /// Whether a ring with these indices has no free slot (a garbage
    /// `consumer` counts as full).
    pub const fn is_full(producer: u64, consumer: u64, slots: u32) -> bool {
        match producer.checked_sub(consumer) {
            Some(used) => used >= slots as u64,
            None => true,
        }
    }
}

/// The counters and the binding list the kernel exports read-only at
/// [`crate::layout::NET_EXPORT`]: a header page ([`NetExportHeader`],
/// interface counters), then [`MAX_BINDINGS`] [`BindingEntry`]s from
/// [`ENTRIES_OFFSET`] (entry `i` describes binding id `i`). The kernel
/// updates them while no environment runs; `generation` changes with every
/// install and removal.
pub mod export {
    /// [`NetExportHeader::magic`]: "EXONET01".
    pub const MAGIC: u64 = u64::from_le_bytes(*b"EXONET01");
    /// Binding ids the table can describe (ids are `0..MAX_BINDINGS`).
    pub const MAX_BINDINGS: usize = 256;
    /// Offset of the first entry from [`crate::layout::NET_EXPORT`].
    pub const ENTRIES_OFFSET: u64 = 4096;
    /// Pages the kernel maps at [`crate::layout::NET_EXPORT`].
    pub const PAGES: u64 = 1 + (MAX_BINDINGS * core::mem::size_of::<BindingEntry>()) as u64 / 4096;

    /// [`BindingEntry::flags`]: the slot describes an installed binding.
    pub const ENTRY_LIVE: u32 = 1 << 0;
    /// It has a BPF handler (verified, JIT-compiled).
    pub const ENTRY_BPF: u32 = 1 << 1;
    /// It has a WebAssembly handler (wasmi, fuel-metered).
    pub const ENTRY_WASM: u32 = 1 << 2;
    /// It has a receive ring.
    pub const ENTRY_RING: u32 = 1 << 3;
    /// It is the default receiver of unclaimed frames.
    pub const ENTRY_DEFAULT: u32 = 1 << 4;
    /// Its filter is (or includes) a filter program: it takes frames no
    /// atom filter takes (`docs/NET.md`); `NetFilters` lists its atoms only.
    pub const ENTRY_FILTER_PROGRAM: u32 = 1 << 5;

    /// Interface counters (the kernel's `NETSTAT` line).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[repr(C)]
    pub struct InterfaceCounters {
        pub rx_frames: u64,
        pub rx_bytes: u64,
        pub tx_frames: u64,
        pub tx_bytes: u64,
        pub malformed: u64,
        pub truncated: u64,
        pub oversized: u64,
        pub no_buffer: u64,
        pub unclaimed: u64,
        pub handler_fault: u64,
        pub consumed: u64,
        pub delivered: u64,
        pub tx_no_buffer: u64,
        pub tx_bad_length: u64,
        /// Frames environments tried to send that their transmit filter
        /// refused.
        pub tx_refused: u64,
        pub rx_interrupts: u64,
        /// Configuration-change interrupts (link up/down).
        pub config_interrupts: u64,
        pub device_errors: u64,
    }

    impl InterfaceCounters {
        /// Received frames whose fate is recorded (every one must be: the
        /// drop reasons plus consumed and delivered add up to `rx_frames`).
        pub fn accounted(&self) -> u64 {
            self.malformed
                + self.truncated
                + self.oversized
                + self.no_buffer
                + self.unclaimed
                + self.handler_fault
                + self.consumed
                + self.delivered
        }
    }

    /// The header page.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[repr(C)]
    pub struct NetExportHeader {
        /// [`MAGIC`].
        pub magic: u64,
        /// [`MAX_BINDINGS`].
        pub max_bindings: u32,
        /// Bindings installed now.
        pub live: u32,
        /// Changes with every install and removal.
        pub generation: u64,
        /// The NIC's MAC address (zero without a NIC), then 2 bytes of 0.
        pub mac: [u8; 8],
        pub counters: InterfaceCounters,
    }

    /// One binding (128 bytes).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[repr(C)]
    pub struct BindingEntry {
        /// `ENTRY_*` flags (0: no binding has this id).
        pub flags: u32,
        /// Owning environment ([`crate::EnvId`] value; 0 = the kernel).
        pub owner: u32,
        /// Filters installed for it.
        pub filters: u32,
        /// Slots of its ring (0: none).
        pub ring_slots: u32,
        /// Frames its filters took.
        pub matches: u64,
        pub handler_runs: u64,
        /// Handler runs that faulted (helper fault, trap, fuel exhausted,
        /// bad verdict).
        pub handler_faults: u64,
        /// TSC cycles spent in the handler.
        pub handler_cycles: u64,
        /// Frames the handler consumed.
        pub consumed: u64,
        /// Frames written to its ring.
        pub delivered: u64,
        /// Frames to deliver that found no ring or a full one.
        pub ring_overflows: u64,
        /// Frames the handler sent, and failed to send.
        pub sent: u64,
        pub send_failures: u64,
        /// Wake-ups of the owner (the handler's `wake_owner`, deliveries).
        pub wakeups: u64,
        /// Fuel a WebAssembly handler gets per frame (0 for others).
        pub fuel: u64,
        /// Name, NUL padded.
        pub name: [u8; 24],
    }
}

#[cfg(test)]
mod tests {
    use super::export::{BindingEntry, InterfaceCounters, NetExportHeader};
    use super::ring::{RingHeader, SlotHeader};
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn numbers_round_trip_and_lie_in_the_group() {
        for c in NetCall::ALL {
            assert_eq!(NetCall::from_u64(c.nr()), Some(c));
            assert!(crate::syscall::is_net(c.nr()));
        }
        assert_eq!(NetCall::from_u64(63), None);
        assert_eq!(NetCall::from_u64(95), None);
    }

    #[test]
    fn request_layout() {
        assert_eq!(size_of::<BindRequest>(), 12 * 8);
        assert_eq!(offset_of!(BindRequest, ring), 32);
        assert_eq!(offset_of!(BindRequest, message), 64);
        assert_eq!(offset_of!(BindRequest, fuel), 88);
        assert_eq!(size_of::<RegionPages>(), 16);
    }

    #[test]
    fn ring_layout() {
        assert_eq!(size_of::<RingHeader>(), 64);
        assert_eq!(ring::field::PRODUCER, 16);
        assert_eq!(ring::field::CONSUMER, 24);
        assert_eq!(ring::field::OVERFLOWS, 32);
        assert_eq!(size_of::<SlotHeader>(), 16);
        assert_eq!(ring::SLOT_DATA, 2032);
        assert_eq!(ring::slots_for(1), None);
        assert_eq!(ring::slots_for(2), Some(2));
        assert_eq!(ring::slots_for(9), Some(16));
        assert_eq!(ring::slots_for(MAX_PAGES + 1), None);
        assert_eq!(ring::slot_offset(0), 4096);
        assert_eq!(ring::slot_offset(3), 4096 + 3 * 2048);
    }

    #[test]
    fn fullness_treats_garbage_as_full() {
        assert!(!ring::is_full(0, 0, 4));
        assert!(!ring::is_full(7, 4, 4));
        assert!(ring::is_full(8, 4, 4));
        assert!(ring::is_full(3, 9, 4), "consumer past producer");
        assert!(ring::is_full(100, 0, 4), "consumer far behind");
    }

    #[test]
    fn export_layout() {
        assert_eq!(size_of::<BindingEntry>(), 128);
        assert_eq!(offset_of!(BindingEntry, matches), 16);
        assert_eq!(offset_of!(BindingEntry, name), 104);
        assert_eq!(size_of::<InterfaceCounters>(), 18 * 8);
        assert_eq!(export::PAGES, 9);
    }

    // The header fits its page, the table the export window, and a slot
    // any frame the kernel accepts.
    const _: () = {
        assert!(size_of::<NetExportHeader>() <= 4096);
        assert!(export::PAGES * 4096 <= crate::layout::NET_EXPORT_SIZE);
        assert!(ring::SLOT_DATA >= MAX_TX_FRAME as usize);
    };
}
