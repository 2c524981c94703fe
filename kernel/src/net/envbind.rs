//! The network system calls (`exo_abi::net::NetCall`): secure bindings of
//! packets by environments.
//!
//! `Bind` reads a `BindRequest` from the caller, decodes its object
//! strictly, resolves the ring and region pages to frames the caller owns
//! and may write ([`super::pages`]), pins them, and installs the binding:
//! the demultiplexer refuses filters that overlap another owner's binding
//! without that owner's grant, verifies (BPF) or validates (WebAssembly)
//! the handler and compiles it. Every refusal has its own error code, and
//! the explanation (the verifier's report, the decoder's error, the
//! conflicting binding) goes to the caller's message buffer. An ending
//! environment loses every binding and its pages are unpinned (exit hook).
//! `Transmit` sends a frame after the transmit filter ([`super::tx`]).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use exo_abi::net::{
    BIND_DEFAULT, BIND_FLAGS, BindRequest, DEFAULT_FUEL, MAX_FUEL, MAX_MESSAGE, MAX_NAME,
    MAX_OBJECT, MAX_REGIONS, MAX_TX_FRAME, NetCall, RegionPages,
};
use exo_abi::{EnvId, Error};

use super::binding::{BindError, BindingId, BindingSpec, object_parts};
use super::counters::{COUNTERS, bump};
use super::handler::{HandlerCode, HandlerError};
use super::hooks::OwnerId;
use super::regions::{RegionError, RegionSource};
use super::{SendFailure, export, pages};
use crate::drivers::virtio_net::TxError;
use crate::env::Kernel;
use crate::mm::frame::Frame;
use crate::syscall::uslice::USlice;

/// Hooks the calls, the exit hook and the exported pages into the
/// environment layer (once, at boot, with or without a NIC).
pub fn init(k: &mut Kernel) {
    if let Err(e) = export::init(k) {
        log::error!("net: cannot export the network counters: {e:?}");
    }
    crate::syscall::net::register(dispatch);
    if !crate::env::lifecycle::register_exit_hook(on_exit) {
        log::error!("net: no exit-hook slot left: bindings would outlive their owners");
    }
}

fn owner(id: EnvId) -> OwnerId {
    OwnerId(id.0)
}

/// The group's dispatcher.
fn dispatch(k: &mut Kernel, id: EnvId, nr: u64, a: &[u64; 6]) -> Result<u64, Error> {
    match NetCall::from_u64(nr).ok_or(Error::UnknownSyscall)? {
        NetCall::Bind => bind(k, id, a[0], a[1]).map(|b| u64::from(b.0)),
        NetCall::Unbind => unbind(k, id, a[0]).map(|()| 0),
        NetCall::Grant => grant(k, id, a[0], a[1], true).map(|()| 0),
        NetCall::RevokeGrant => grant(k, id, a[0], a[1], false).map(|()| 0),
        NetCall::Transmit => transmit(k, id, a[0], a[1]).map(|()| 0),
        NetCall::Filters => filters(k, id, a[0], a[1], a[2]),
    }
}

/// Decodes a little-endian `BindRequest`.
fn decode_request(b: &[u8]) -> BindRequest {
    let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    BindRequest {
        object: w(0),
        object_len: w(1),
        name: w(2),
        name_len: w(3),
        ring: w(4),
        ring_pages: w(5),
        regions: w(6),
        region_count: w(7),
        message: w(8),
        message_len: w(9),
        flags: w(10),
        fuel: w(11),
    }
}

/// The error code for a refused binding.
fn code(e: &BindError) -> Error {
    match e {
        BindError::Object(_) | BindError::NoFilter => Error::BadObject,
        BindError::FilterProgramCalls { .. } => Error::VerifierRejected,
        BindError::Handler(h) | BindError::FilterProgram(h) => handler_code(h),
        BindError::Insert(_) | BindError::TooManyBindings | BindError::TooManyPrograms(_) => {
            Error::TooManyBindings
        }
        BindError::Trie(_) | BindError::Code(_) => Error::OutOfMemory,
        BindError::OwnerGone(_) => Error::NoSuchEnv,
        BindError::NoBinding(_) => Error::NoSuchBinding,
        BindError::Conflict { .. } => Error::FilterConflict,
        BindError::DefaultTaken(_) => Error::DefaultTaken,
        BindError::DefaultWithoutRing => Error::InvalidArgument,
        BindError::RingTooSmall => Error::RingTooSmall,
    }
}

/// The error code for a refused handler or filter program.
fn handler_code(h: &HandlerError) -> Error {
    match h {
        HandlerError::Verify(_) => Error::VerifierRejected,
        HandlerError::WrongType(_) => Error::BadObject,
        HandlerError::Wasm(_) => Error::BadHandler,
        HandlerError::Regions(RegionError::Window(_)) | HandlerError::Code(_) => Error::OutOfMemory,
        HandlerError::Regions(_) => Error::RegionTooSmall,
        HandlerError::Compile(_) => Error::BadHandler,
    }
}

/// Where to explain a refusal (best effort: an unwritable buffer gets
/// nothing).
struct Message(Option<USlice>);

impl Message {
    fn tell(&self, k: &Kernel, id: EnvId, text: &str) {
        let (Some(buf), Some(env)) = (self.0, k.envs.get(id)) else {
            return;
        };
        if buf.is_empty() {
            return;
        }
        let n = text.len().min(buf.len() - 1);
        let mut bytes = Vec::with_capacity(n + 1);
        bytes.extend_from_slice(&text.as_bytes()[..n]);
        bytes.push(0);
        let _ = buf.write(&env.space, &bytes);
    }
}

/// `Bind`.
fn bind(k: &mut Kernel, id: EnvId, req: u64, size: u64) -> Result<BindingId, Error> {
    let want = core::mem::size_of::<BindRequest>() as u64;
    if size != want {
        return Err(Error::InvalidArgument);
    }
    let space = &k.envs.get(id).ok_or(Error::NoSuchEnv)?.space;
    let r = decode_request(&USlice::new(req, size, want)?.read_vec(space)?);
    let message = Message(USlice::new(r.message, r.message_len, MAX_MESSAGE).ok());
    if r.message_len > MAX_MESSAGE {
        return Err(Error::TooLong);
    }
    let fail = |k: &Kernel, e: Error, text: &str| {
        message.tell(k, id, text);
        Err(e)
    };
    if r.flags & !BIND_FLAGS != 0 {
        return fail(k, Error::InvalidArgument, "unknown bind flags");
    }
    let default = r.flags & BIND_DEFAULT != 0;
    if r.fuel > MAX_FUEL {
        return fail(k, Error::InvalidArgument, "fuel above the maximum");
    }
    let name = USlice::new(r.name, r.name_len, MAX_NAME)?.read_vec(space)?;
    let Ok(name) = String::from_utf8(name) else {
        return fail(k, Error::InvalidArgument, "the name is not UTF-8");
    };
    let parts = if r.object_len == 0 {
        if !default {
            return fail(
                k,
                Error::BadObject,
                "no object: only the default receiver may bind without one",
            );
        }
        None
    } else {
        let bytes = USlice::new(r.object, r.object_len, MAX_OBJECT)?.read_vec(space)?;
        match object_parts(&bytes, if r.fuel == 0 { DEFAULT_FUEL } else { r.fuel }) {
            Ok(p) => Some(p),
            Err(e) => return fail(k, code(&e), &e.to_string()),
        }
    };
    let (filters, filter_program, handler) = match parts {
        Some(p) => (p.filters, p.filter_program, p.handler),
        None => (Vec::new(), None, None),
    };
    if r.fuel != 0 && !matches!(handler, Some((HandlerCode::Wasm { .. }, _))) {
        return fail(
            k,
            Error::InvalidArgument,
            "fuel is only for WebAssembly handlers",
        );
    }
    let declared = handler.as_ref().map_or(0, |(_, s)| s.regions.len());
    if r.region_count != declared as u64 {
        let text = alloc::format!(
            "the handler declares {declared} region(s); the request gives {}",
            r.region_count
        );
        return fail(k, Error::RegionTooSmall, &text);
    }
    // Resolve every page before pinning any.
    let mut regions: Vec<Vec<Frame>> = Vec::new();
    if declared > 0 {
        let list =
            USlice::new(r.regions, r.region_count * 16, MAX_REGIONS * 16)?.read_vec(space)?;
        let decls = handler
            .as_ref()
            .map(|(_, s)| s.regions.clone())
            .unwrap_or_default();
        for (i, decl) in decls.iter().enumerate() {
            let c = &list[i * 16..i * 16 + 16];
            let rp = RegionPages {
                vaddr: u64::from_le_bytes(c[0..8].try_into().unwrap_or([0; 8])),
                pages: u64::from_le_bytes(c[8..16].try_into().unwrap_or([0; 8])),
            };
            match pages::resolve(k, id, rp.vaddr, rp.pages, decl.writable) {
                Ok(f) => regions.push(f),
                Err(e) => return fail(k, e, &alloc::format!("region {i}: {e}")),
            }
        }
    }
    let ring = match r.ring_pages {
        0 => None,
        1 => {
            return fail(
                k,
                Error::RingTooSmall,
                "a ring needs a header page and a page of slots",
            );
        }
        n => match pages::resolve(k, id, r.ring, n, true) {
            Ok(f) => Some(f),
            Err(e) => return fail(k, e, &alloc::format!("ring: {e}")),
        },
    };
    let mut pins: Vec<Frame> = regions.iter().flatten().copied().collect();
    pins.extend(ring.iter().flatten());
    pages::pin(k, id, &pins)?;
    let spec = BindingSpec {
        owner: owner(id),
        name,
        filters,
        filter_program,
        handler,
        regions: RegionSource::Pages(regions),
        sink: None,
        ring,
        default,
        pins: pins.clone(),
    };
    match super::install(spec) {
        Ok(b) => {
            super::with_binding(b, export::write_binding);
            export::write_header(super::list().len(), true);
            Ok(b)
        }
        Err(e) => {
            pages::unpin(k, id, &pins);
            let text = e.to_string();
            fail(k, code(&e), &text)
        }
    }
}

/// Removes binding `b` (of anyone: the caller checked) and unpins its
/// pages.
fn remove(k: &mut Kernel, b: BindingId) {
    match super::remove_binding(b) {
        Ok(binding) => {
            if let Some(env) = EnvId::from_u64(u64::from(binding.owner.0)) {
                pages::unpin(k, env, &binding.pins);
            }
            export::clear_binding(b);
            export::write_header(super::list().len(), true);
        }
        Err(e) => log::error!("net: removing {b}: {e}"),
    }
}

/// The caller's binding `b`.
fn own(id: EnvId, b: u64) -> Result<BindingId, Error> {
    let b = BindingId(u32::try_from(b).map_err(|_| Error::NoSuchBinding)?);
    match super::with_binding(b, |x| x.owner) {
        Some(o) if o == owner(id) => Ok(b),
        _ => Err(Error::NoSuchBinding),
    }
}

/// `Unbind`.
fn unbind(k: &mut Kernel, id: EnvId, b: u64) -> Result<(), Error> {
    let b = own(id, b)?;
    remove(k, b);
    Ok(())
}

/// `Grant` (`on`) and `RevokeGrant`.
fn grant(k: &mut Kernel, id: EnvId, b: u64, to: u64, on: bool) -> Result<(), Error> {
    let b = own(id, b)?;
    let to = EnvId::from_u64(to)
        .filter(|t| k.envs.get(*t).is_some())
        .ok_or(Error::NoSuchEnv)?;
    if to == id {
        return Err(Error::InvalidArgument);
    }
    super::with_binding_mut(b, |x| {
        x.grants.retain(|g| *g != owner(to));
        if on {
            x.grants.push(owner(to));
        }
    });
    if !on {
        // Visible revocation: the grantee's bindings that overlapped `b`
        // under the grant are broken now (removed, pages unpinned, export
        // entries cleared), so it receives none of the owner's frames
        // from here on. Its calls on them return `NoSuchBinding`.
        let broken = super::with_demux(|d| d.unpermitted_bindings_of(owner(to)));
        for x in broken {
            log::info!("net: {x} of env {} broken: {b}'s grant revoked", to.0);
            remove(k, x);
        }
    }
    Ok(())
}

/// `Transmit`.
fn transmit(k: &mut Kernel, id: EnvId, ptr: u64, len: u64) -> Result<(), Error> {
    let env = k.envs.get(id).ok_or(Error::NoSuchEnv)?;
    let frame = USlice::new(ptr, len, MAX_TX_FRAME)?.read_vec(&env.space)?;
    let mac = super::mac().ok_or(Error::LinkDown)?;
    let me = owner(id);
    let allowed = super::with_demux(|d| {
        super::tx::check(&frame, mac, |m| {
            let mine: Vec<BindingId> = d
                .bindings()
                .filter(|b| b.owner == me)
                .map(|b| b.id)
                .collect();
            let atoms = mine
                .iter()
                .flat_map(|b| d.filters_of(*b))
                .any(|f| f.matches(m));
            atoms || d.program_permits(me, m)
        })
    });
    let result = allowed.and_then(|()| {
        super::transmit(&frame).map_err(|e| match e {
            SendFailure::Tx(TxError::QueueFull) => Error::TxQueueFull,
            SendFailure::Tx(TxError::BadLength(_)) => Error::TooLong,
            _ => Error::LinkDown,
        })
    });
    if result == Err(Error::SourceNotBound) {
        bump(&COUNTERS.tx_refused);
    }
    export::write_header(super::with_demux(|d| d.bindings().count()), false);
    result
}

/// `Filters`: the wire form of binding `b`'s filters.
fn filters(k: &mut Kernel, id: EnvId, b: u64, buf: u64, len: u64) -> Result<u64, Error> {
    let b = BindingId(u32::try_from(b).map_err(|_| Error::NoSuchBinding)?);
    let out = super::with_demux(|d| {
        d.binding(b)?;
        let mut out = Vec::new();
        for f in d.filters_of(b) {
            let w = filter_lang::filter::wire::encode(f);
            out.extend_from_slice(&(w.len() as u16).to_le_bytes());
            out.extend_from_slice(&w);
        }
        Some(out)
    })
    .ok_or(Error::NoSuchBinding)?;
    let env = k.envs.get(id).ok_or(Error::NoSuchEnv)?;
    if out.len() as u64 > len {
        return Err(Error::TooLong);
    }
    USlice::new(buf, len, u64::MAX)?.write(&env.space, &out)?;
    Ok(out.len() as u64)
}

/// Exit hook: the environment's bindings go, its pages are unpinned, and
/// the grants others gave it are withdrawn.
fn on_exit(k: &mut Kernel, id: EnvId) {
    let gone: Vec<BindingId> = super::list()
        .iter()
        .filter(|b| b.owner == owner(id))
        .map(|b| b.id)
        .collect();
    for b in gone {
        remove(k, b);
    }
    super::with_demux(|d| {
        let ids: Vec<BindingId> = d.bindings().map(|b| b.id).collect();
        for b in ids {
            if let Some(x) = d.binding_mut(b) {
                x.grants.retain(|g| *g != owner(id));
            }
        }
    });
}
