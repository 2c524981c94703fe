//! Safe wrappers over the network system calls (`exo_abi::net::NetCall`).
//! The kernel reads only the buffers passed here and writes only the
//! message buffer and `filters`' output, through the caller's own page
//! tables: none of these calls can change the caller's memory under it in
//! any other way.

use exo_abi::net::{BIND_DEFAULT, BindRequest, NetCall, RegionPages};
use exo_abi::syscall::decode;
use exo_abi::{EnvId, Error};

/// A binding id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BindingId(pub u32);

/// What to bind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bind<'a> {
    /// An `exo-filter compile` object (empty: only with `default`).
    pub object: &'a [u8],
    pub name: &'a str,
    /// The receive ring: page-aligned address and pages (0: none).
    pub ring: Option<(u64, u64)>,
    /// One page range per region the handler declares.
    pub regions: &'a [RegionPages],
    /// Also receive the frames no filter takes.
    pub default: bool,
    /// Fuel per frame for a WebAssembly handler (0: the kernel's default).
    pub fuel: u64,
}

/// A refused bind: the code and the kernel's explanation (UTF-8, possibly
/// empty).
#[derive(Clone, Copy, Debug)]
pub struct Refused<'m> {
    pub error: Error,
    pub message: &'m str,
}

/// A call whose buffers are all borrowed by the wrapper's caller.
fn call(nr: NetCall, a: [u64; 6]) -> Result<u64, Error> {
    // SAFETY: no network call maps, unmaps or frees memory or changes the
    // upcall entry; the wrappers pass only buffers borrowed for the call
    // (mutably where the kernel writes), through the caller's page tables.
    let (s, v) = unsafe { libos_core::sys::raw(nr.nr(), a) };
    decode(s, v)
}

/// The request for `b`, with `message` as the explanation buffer.
pub fn request(b: &Bind<'_>, message: &mut [u8]) -> BindRequest {
    let (ring, ring_pages) = b.ring.unwrap_or((0, 0));
    BindRequest {
        object: b.object.as_ptr() as u64,
        object_len: b.object.len() as u64,
        name: b.name.as_ptr() as u64,
        name_len: b.name.len() as u64,
        ring,
        ring_pages,
        regions: b.regions.as_ptr() as u64,
        region_count: b.regions.len() as u64,
        message: message.as_mut_ptr() as u64,
        message_len: message.len() as u64,
        flags: if b.default { BIND_DEFAULT } else { 0 },
        fuel: b.fuel,
    }
}

/// `Bind`: returns the binding, or the error with the kernel's message
/// (written into `message`).
pub fn bind<'m>(b: &Bind<'_>, message: &'m mut [u8]) -> Result<BindingId, Refused<'m>> {
    message.fill(0);
    let req = request(b, message);
    // SAFETY: every pointer in `req` comes from a live borrow of the right
    // length; the kernel writes only into `message`, borrowed mutably.
    let r = unsafe { bind_raw(&req) };
    match r {
        Ok(id) => Ok(id),
        Err(error) => {
            let n = message
                .iter()
                .position(|&c| c == 0)
                .unwrap_or(message.len());
            let text = core::str::from_utf8(&message[..n]).unwrap_or("");
            Err(Refused {
                error,
                message: text,
            })
        }
    }
}

/// `Bind` with a request built by the caller (tests pass hostile ones).
///
/// # Safety
/// The kernel writes its explanation to `req.message` (up to
/// `req.message_len` bytes) wherever that points in writable caller
/// memory: no Rust reference may point there.
pub unsafe fn bind_raw(req: &BindRequest) -> Result<BindingId, Error> {
    let size = core::mem::size_of::<BindRequest>() as u64;
    // SAFETY: forwarded to the caller (the message buffer); the kernel only
    // reads the other buffers.
    let (s, v) = unsafe {
        libos_core::sys::raw(
            NetCall::Bind.nr(),
            [req as *const _ as u64, size, 0, 0, 0, 0],
        )
    };
    decode(s, v).map(|v| BindingId(v as u32))
}

/// `Unbind`.
pub fn unbind(b: BindingId) -> Result<(), Error> {
    call(NetCall::Unbind, [u64::from(b.0), 0, 0, 0, 0, 0]).map(drop)
}

/// `Grant`: lets `to` install filters overlapping binding `b`'s.
pub fn grant(b: BindingId, to: EnvId) -> Result<(), Error> {
    call(
        NetCall::Grant,
        [u64::from(b.0), u64::from(to.0), 0, 0, 0, 0],
    )
    .map(drop)
}

/// `RevokeGrant`.
pub fn revoke_grant(b: BindingId, from: EnvId) -> Result<(), Error> {
    call(
        NetCall::RevokeGrant,
        [u64::from(b.0), u64::from(from.0), 0, 0, 0, 0],
    )
    .map(drop)
}

/// `Transmit`: sends `frame` through the kernel's transmit filter.
pub fn transmit(frame: &[u8]) -> Result<(), Error> {
    call(
        NetCall::Transmit,
        [frame.as_ptr() as u64, frame.len() as u64, 0, 0, 0, 0],
    )
    .map(drop)
}

/// `Filters`: binding `b`'s filters in wire form (each after a `u16`
/// length); returns the bytes written into `out`.
pub fn filters(b: BindingId, out: &mut [u8]) -> Result<usize, Error> {
    call(
        NetCall::Filters,
        [
            u64::from(b.0),
            out.as_mut_ptr() as u64,
            out.len() as u64,
            0,
            0,
            0,
        ],
    )
    .map(|n| n as usize)
}

/// A raw call of the group with arbitrary arguments (hostile tests).
///
/// # Safety
/// With garbage arguments the kernel may write (a bind message, filters)
/// into any writable memory of the caller the arguments name: no Rust
/// reference may point there.
pub unsafe fn raw(nr: u64, a: [u64; 6]) -> Result<u64, Error> {
    // SAFETY: forwarded to the caller; the kernel checks every access
    // against the caller's own page tables and rights and never maps,
    // unmaps or frees memory in this group.
    let (s, v) = unsafe { libos_core::sys::raw(nr, a) };
    decode(s, v)
}
