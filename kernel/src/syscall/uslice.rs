//! Checked user buffers (after Hubris's `USlice`): a system-call argument
//! that points into the caller's memory. Construction checks the range
//! (no overflow, inside the user half, not longer than the call allows);
//! every access walks the caller's page tables and needs the caller's own
//! rights (user, and writable for writes), so the kernel reads and writes
//! only what the environment itself could. Reused by the network calls.

use alloc::vec::Vec;

use exo_abi::Error;
use exo_abi::layout::USER_END;

use crate::arch::user_space::UserSpace;

/// `len` bytes at user address `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct USlice {
    addr: u64,
    len: u64,
}

impl USlice {
    /// Checks `[addr, addr + len)`: inside the user half and at most `max`
    /// bytes.
    pub fn new(addr: u64, len: u64, max: u64) -> Result<USlice, Error> {
        if len > max {
            return Err(Error::TooLong);
        }
        match addr.checked_add(len) {
            Some(end) if end <= USER_END => Ok(USlice { addr, len }),
            _ => Err(Error::BadAddress),
        }
    }

    pub fn addr(&self) -> u64 {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the whole buffer into `out` (`out.len()` must equal `len`).
    pub fn read_into(&self, space: &UserSpace, out: &mut [u8]) -> Result<(), Error> {
        if out.len() != self.len() {
            return Err(Error::InvalidArgument);
        }
        space.read(self.addr, out).map_err(|_| Error::BadAddress)
    }

    /// Copies the whole buffer into a new vector.
    pub fn read_vec(&self, space: &UserSpace) -> Result<Vec<u8>, Error> {
        let mut v = alloc::vec![0u8; self.len()];
        self.read_into(space, &mut v)?;
        Ok(v)
    }

    /// Writes `data` (at most `len` bytes) at the start of the buffer.
    pub fn write(&self, space: &UserSpace, data: &[u8]) -> Result<(), Error> {
        if data.len() > self.len() {
            return Err(Error::TooLong);
        }
        space.write(self.addr, data).map_err(|_| Error::BadAddress)
    }
}

crate::kernel_test! {
    fn user_slices_reject_bad_ranges() {
        ensure_eq!(USlice::new(u64::MAX, 2, 10), Err(Error::BadAddress));
        ensure_eq!(USlice::new(USER_END - 4, 8, 10), Err(Error::BadAddress));
        ensure_eq!(USlice::new(0x1000, 11, 10), Err(Error::TooLong));
        ensure_eq!(USlice::new(0xFFFF_8000_0000_0000, 1, 10), Err(Error::BadAddress));
        ensure!(USlice::new(USER_END - 8, 8, 10).is_ok(), "the last user bytes are a valid range");
        Ok(())
    }
}
