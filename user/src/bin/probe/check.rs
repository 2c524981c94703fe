//! Checks with numbered failures: each failing check prints what it saw
//! and ends the probe with `FAILED_BASE + number`.

use core::fmt::Debug;

use exo_abi::Error;
use exo_user::println;

/// A check number.
pub type Check = u64;

/// `got` must be the error `want`.
pub fn refused<T: Debug>(
    n: Check,
    what: &str,
    got: Result<T, Error>,
    want: Error,
) -> Result<(), Check> {
    match got {
        Err(e) if e == want => Ok(()),
        other => {
            println!("probe: check {n} ({what}): expected Err({want:?}), got {other:?}");
            Err(n)
        }
    }
}

/// `got` must succeed.
pub fn ok<T: Debug>(n: Check, what: &str, got: Result<T, Error>) -> Result<T, Check> {
    got.map_err(|e| {
        println!("probe: check {n} ({what}): failed with {e:?}");
        n
    })
}

/// `cond` must hold.
pub fn that(n: Check, what: &str, cond: bool) -> Result<(), Check> {
    if cond {
        Ok(())
    } else {
        println!("probe: check {n} failed: {what}");
        Err(n)
    }
}
