//! The helpers of `packet` programs (ASHs), implemented once for every
//! engine: the interpreter, the JIT's tests and the kernel all dispatch
//! through [`AshHelpers`]. Memory is reached only through [`HelperMemory`]
//! (virtual addresses in the interpreter, real ones for JIT'd code);
//! environment-dependent effects (clock, transmit, wake-up) go through
//! [`AshEnv`].
//!
//! The verifier checks each call against the signature documented on the
//! constants in [`id`]; the runtime checks here are a second line of defence
//! and give the documented negative error codes ([`err`]).

use super::csum::Csum;
use super::helpers::{HelperFault, HelperMemory, HelperOutcome, Helpers};

/// Helper numbers of the `packet` program type.
pub mod id {
    /// `ktime_ns() -> u64`: monotonic time in nanoseconds.
    pub const KTIME_NS: i32 = 1;
    /// `counter_add(idx: const < counters, delta: scalar) -> u64`: adds
    /// `delta` (wrapping) to counter `idx`, returns the new value.
    pub const COUNTER_ADD: i32 = 2;
    /// `region_ptr(id: const < regions) -> pointer`: the start of region `id`
    /// (never null).
    pub const REGION_PTR: i32 = 3;
    /// `copy_to_region(id: const writable region, region_off, pkt_off, len)
    /// -> i64`: copies `len` packet bytes from `pkt_off` to the region at
    /// `region_off`; returns `len` or a negative [`super::err`] code.
    pub const COPY_TO_REGION: i32 = 4;
    /// `copy_to_region_csum(id, region_off, pkt_off, len, seed) -> i64`: the
    /// same copy, returning the folded Internet checksum of `seed` and the
    /// copied bytes (0..=0xffff) or a negative error code.
    pub const COPY_TO_REGION_CSUM: i32 = 5;
    /// `send_frame(buf: readable pointer, len: scalar) -> i64`: transmits
    /// `len` bytes at `buf` as a frame; 0 or a negative error code.
    pub const SEND_FRAME: i32 = 6;
    /// `wake_owner() -> 0`: makes the owning environment runnable.
    pub const WAKE_OWNER: i32 = 7;
    /// `checksum(buf: readable pointer, len: scalar, seed: scalar) -> u64`:
    /// the folded Internet checksum of `seed` and the `len` bytes at `buf`.
    pub const CHECKSUM: i32 = 8;
}

/// Negative error codes returned by the copying and sending helpers.
pub mod err {
    /// `pkt_off + len` is beyond the end of the packet.
    pub const PACKET_RANGE: i64 = -1;
    /// `region_off + len` is beyond the end of the region.
    pub const REGION_RANGE: i64 = -2;
    /// The region id does not exist or the region is read-only.
    pub const BAD_REGION: i64 = -3;
    /// `len` is 0 or longer than [`super::MAX_FRAME_LEN`] (`send_frame`).
    pub const BAD_LENGTH: i64 = -4;
    /// The transmit queue refused the frame.
    pub const SEND_FAILED: i64 = -5;
}

/// Longest frame `send_frame` transmits (Ethernet header + 1500, no FCS).
pub const MAX_FRAME_LEN: usize = 1514;

/// Number of ASH helpers (ids are `1..=HELPER_COUNT`).
pub const HELPER_COUNT: i32 = 8;

/// Bytes copied per step by the copying helpers (even, so checksums of
/// steps chain without re-alignment).
const CHUNK: usize = 256;

/// Where an application region is at run time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RegionBinding {
    /// Address of its first byte (virtual in the interpreter, real in the
    /// kernel).
    pub base: u64,
    pub size: u32,
    pub writable: bool,
}

/// Where the current packet is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PacketBinding {
    pub addr: u64,
    pub len: u32,
}

/// Why a frame could not be sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SendError {
    /// No room in the transmit queue.
    QueueFull,
    /// No link or no device.
    Unavailable,
}

/// The effects of ASH helpers that depend on where the handler runs.
pub trait AshEnv {
    /// Monotonic time in nanoseconds.
    fn now_ns(&mut self) -> u64;
    /// Transmits one frame (the bytes are copied out before this returns).
    fn send_frame(&mut self, frame: &[u8]) -> Result<(), SendError>;
    /// Makes the owning environment runnable.
    fn wake_owner(&mut self);
}

/// The ASH helper set for one handler invocation.
pub struct AshHelpers<'a> {
    pub regions: &'a [RegionBinding],
    pub packet: PacketBinding,
    pub counters: &'a mut [u64],
    pub env: &'a mut dyn AshEnv,
}

fn ret(v: i64) -> HelperOutcome {
    HelperOutcome::Return(v as u64)
}

impl AshHelpers<'_> {
    fn writable_region(&self, id: u64) -> Option<RegionBinding> {
        let r = *self.regions.get(usize::try_from(id).ok()?)?;
        r.writable.then_some(r)
    }

    /// Checks and performs `copy_to_region[_csum]`; the checksum is fed the
    /// copied bytes when given.
    fn copy(
        &self,
        args: [u64; 5],
        mem: &mut dyn HelperMemory,
        mut csum: Option<&mut Csum>,
    ) -> Result<i64, HelperOutcome> {
        let [id, region_off, pkt_off, len, _] = args;
        let Some(region) = self.writable_region(id) else {
            return Err(ret(err::BAD_REGION));
        };
        match pkt_off.checked_add(len) {
            Some(end) if end <= self.packet.len as u64 => {}
            _ => return Err(ret(err::PACKET_RANGE)),
        }
        match region_off.checked_add(len) {
            Some(end) if end <= region.size as u64 => {}
            _ => return Err(ret(err::REGION_RANGE)),
        }
        // Both ranges are within u32 now: no overflow below.
        let mut buf = [0u8; CHUNK];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            let chunk = &mut buf[..n];
            mem.read(self.packet.addr + pkt_off + done, chunk)
                .map_err(|m| HelperOutcome::Fault(HelperFault::Memory(m)))?;
            mem.write(region.base + region_off + done, chunk)
                .map_err(|m| HelperOutcome::Fault(HelperFault::Memory(m)))?;
            if let Some(c) = csum.as_deref_mut() {
                c.add(chunk);
            }
            done += n as u64;
        }
        Ok(len as i64)
    }

    fn checksum(&self, buf: u64, len: u64, seed: u64, mem: &mut dyn HelperMemory) -> HelperOutcome {
        let mut c = Csum::with_seed(seed);
        let mut chunk = [0u8; CHUNK];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(CHUNK as u64) as usize;
            let Some(addr) = buf.checked_add(done) else {
                return HelperOutcome::Fault(HelperFault::BadArgument {
                    id: id::CHECKSUM,
                    arg: 1,
                });
            };
            if let Err(m) = mem.read(addr, &mut chunk[..n]) {
                return HelperOutcome::Fault(HelperFault::Memory(m));
            }
            c.add(&chunk[..n]);
            done += n as u64;
        }
        HelperOutcome::Return(c.finish() as u64)
    }

    fn send(&mut self, buf: u64, len: u64, mem: &mut dyn HelperMemory) -> HelperOutcome {
        if len == 0 || len > MAX_FRAME_LEN as u64 {
            return ret(err::BAD_LENGTH);
        }
        let mut frame = [0u8; MAX_FRAME_LEN];
        let frame = &mut frame[..len as usize];
        if let Err(m) = mem.read(buf, frame) {
            return HelperOutcome::Fault(HelperFault::Memory(m));
        }
        match self.env.send_frame(frame) {
            Ok(()) => ret(0),
            Err(_) => ret(err::SEND_FAILED),
        }
    }
}

impl Helpers for AshHelpers<'_> {
    fn call(&mut self, helper: i32, args: [u64; 5], mem: &mut dyn HelperMemory) -> HelperOutcome {
        match helper {
            id::KTIME_NS => HelperOutcome::Return(self.env.now_ns()),
            id::COUNTER_ADD => {
                let idx = usize::try_from(args[0]).ok();
                match idx.and_then(|i| self.counters.get_mut(i)) {
                    Some(c) => {
                        *c = c.wrapping_add(args[1]);
                        HelperOutcome::Return(*c)
                    }
                    None => HelperOutcome::Fault(HelperFault::BadArgument { id: helper, arg: 1 }),
                }
            }
            id::REGION_PTR => match usize::try_from(args[0])
                .ok()
                .and_then(|i| self.regions.get(i))
            {
                Some(r) => HelperOutcome::Return(r.base),
                None => HelperOutcome::Fault(HelperFault::BadArgument { id: helper, arg: 1 }),
            },
            id::COPY_TO_REGION => match self.copy(args, mem, None) {
                Ok(n) => ret(n),
                Err(o) => o,
            },
            id::COPY_TO_REGION_CSUM => {
                let mut c = Csum::with_seed(args[4]);
                match self.copy(args, mem, Some(&mut c)) {
                    Ok(_) => HelperOutcome::Return(c.finish() as u64),
                    Err(o) => o,
                }
            }
            id::SEND_FRAME => self.send(args[0], args[1], mem),
            id::WAKE_OWNER => {
                self.env.wake_owner();
                HelperOutcome::Return(0)
            }
            id::CHECKSUM => self.checksum(args[0], args[1], args[2], mem),
            _ => HelperOutcome::Fault(HelperFault::UnknownHelper(helper)),
        }
    }
}

/// An [`AshEnv`] that records what handlers did, for tests and the host
/// tools: a settable clock, the frames sent, the number of wake-ups.
#[derive(Clone, Debug, Default)]
pub struct RecordingEnv {
    /// The value `ktime_ns` returns; advanced by 1 on every read.
    pub clock_ns: u64,
    /// Frames sent, in order.
    pub sent: alloc::vec::Vec<alloc::vec::Vec<u8>>,
    /// How many times `wake_owner` was called.
    pub wakeups: u32,
    /// When set, `send_frame` fails with this error.
    pub fail_sends: Option<SendError>,
}

impl AshEnv for RecordingEnv {
    fn now_ns(&mut self) -> u64 {
        self.clock_ns += 1;
        self.clock_ns
    }

    fn send_frame(&mut self, frame: &[u8]) -> Result<(), SendError> {
        if let Some(e) = self.fail_sends {
            return Err(e);
        }
        self.sent.push(frame.to_vec());
        Ok(())
    }

    fn wake_owner(&mut self) {
        self.wakeups += 1;
    }
}
