//! The network system-call group (`exo_abi::syscall::NET_FIRST..=NET_LAST`):
//! filters, handlers and receive rings in the caller's own pages (issue 7).
//!
//! The network subsystem (`crate::net`) installs its dispatcher at init with
//! [`register`]; until then every call of the group answers
//! `Error::NotSupported`. Handlers run on the short path with the kernel
//! state: they can check frames with `Kernel::holds`, pin ring pages with
//! `Kernel::pin`, read and write user buffers with
//! [`super::uslice::USlice`], and learn about ended environments through
//! `env::lifecycle::register_exit_hook`.

use exo_abi::{EnvId, Error};
use spin::Mutex;

use crate::env::Kernel;

/// A dispatcher for the group: (kernel, caller, number, arguments).
pub type NetDispatch = fn(&mut Kernel, EnvId, u64, &[u64; 6]) -> Result<u64, Error>;

static HANDLER: Mutex<Option<NetDispatch>> = Mutex::new(None);

/// Installs the group's dispatcher (the last one wins).
pub fn register(handler: NetDispatch) {
    *HANDLER.lock() = Some(handler);
}

/// Routes a call of the group.
pub fn dispatch(k: &mut Kernel, id: EnvId, nr: u64, a: &[u64; 6]) -> Result<u64, Error> {
    let handler = *HANDLER.lock();
    match handler {
        Some(h) => h(k, id, nr, a),
        None => Err(Error::NotSupported),
    }
}
