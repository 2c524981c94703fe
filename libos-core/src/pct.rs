//! Protected control transfer from the library OS's side: installing the
//! entry for incoming transfers and the default answer when none is
//! installed. See [`crate::lrpc`] for calls with procedures and replies.

use exo_abi::{EnvId, Error};

pub use crate::upcall::{PctHandler, set_pct_handler as set_handler};

/// Default for incoming transfers without a handler: a call gets an error
/// reply (`[NoEntryPoint code, 0, 0, 0, 0]`), a send is dropped.
pub fn refuse(sender: EnvId, call: bool) {
    if call {
        let _ = crate::api::pct_reply(sender, [Error::NoEntryPoint.code(), 0, 0, 0, 0]);
    }
}
