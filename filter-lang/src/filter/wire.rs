//! The binary form of a filter, as a libOS hands it to the kernel.
//!
//! Little-endian, 4-byte header then 16 bytes per atom:
//!
//! ```text
//! header: count: u16, reserved: u16 (0)
//! atom:   kind: u8 (0 = cmp, 1 = shift), width: u8 (1, 2 or 4),
//!         shift: u8 (0 for cmp), reserved: u8 (0),
//!         off: u16, reserved: u16 (0), mask: u32, value: u32 (0 for shift)
//! ```
//!
//! [`decode`] accepts exactly what [`encode`] produces and validates the
//! result like [`Filter::new`]; every reserved field must be zero so the
//! format can grow.

use super::atom::{Atom, FieldWidth, Filter, FilterError, MAX_ATOMS};
use alloc::vec::Vec;
use core::fmt;

/// Size of the header in bytes.
pub const HEADER_BYTES: usize = 4;
/// Size of one encoded atom in bytes.
pub const ATOM_BYTES: usize = 16;

const KIND_CMP: u8 = 0;
const KIND_SHIFT: u8 = 1;

/// Why bytes are not an encoded filter.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WireError {
    /// Fewer bytes than the header or the atom count needs.
    Truncated { need: usize, have: usize },
    /// Bytes after the last atom.
    TrailingBytes { extra: usize },
    /// An atom kind other than 0 (cmp) or 1 (shift).
    BadKind { atom: usize, kind: u8 },
    /// A width other than 1, 2 or 4.
    BadWidth { atom: usize, width: u8 },
    /// A reserved field is not zero.
    Reserved { atom: Option<usize> },
    /// The decoded atoms do not form a valid filter.
    Invalid(FilterError),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WireError::Truncated { need, have } => {
                write!(
                    f,
                    "encoded filter truncated: need {need} bytes, have {have}"
                )
            }
            WireError::TrailingBytes { extra } => {
                write!(f, "{extra} bytes after the last atom of an encoded filter")
            }
            WireError::BadKind { atom, kind } => {
                write!(
                    f,
                    "atom {atom}: kind {kind} is neither 0 (cmp) nor 1 (shift)"
                )
            }
            WireError::BadWidth { atom, width } => {
                write!(f, "atom {atom}: width {width} is not 1, 2 or 4")
            }
            WireError::Reserved { atom: Some(a) } => {
                write!(f, "atom {a}: a reserved field is not zero")
            }
            WireError::Reserved { atom: None } => {
                write!(f, "filter header: the reserved field is not zero")
            }
            WireError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// Encodes `filter` in the wire format.
pub fn encode(filter: &Filter) -> Vec<u8> {
    let atoms = filter.atoms();
    let mut out = Vec::with_capacity(HEADER_BYTES + ATOM_BYTES * atoms.len());
    out.extend_from_slice(&(atoms.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    for a in atoms {
        let (kind, off, width, mask, value, shift) = match *a {
            Atom::Cmp {
                off,
                width,
                mask,
                value,
            } => (KIND_CMP, off, width, mask, value, 0),
            Atom::Shift {
                off,
                width,
                mask,
                shift,
            } => (KIND_SHIFT, off, width, mask, 0, shift),
        };
        out.extend_from_slice(&[kind, width.bytes() as u8, shift, 0]);
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&mask.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Decodes and validates one encoded filter occupying all of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Filter, WireError> {
    if bytes.len() < HEADER_BYTES {
        return Err(WireError::Truncated {
            need: HEADER_BYTES,
            have: bytes.len(),
        });
    }
    let count = u16_at(bytes, 0) as usize;
    if u16_at(bytes, 2) != 0 {
        return Err(WireError::Reserved { atom: None });
    }
    if count > MAX_ATOMS {
        return Err(WireError::Invalid(FilterError::TooManyAtoms { count }));
    }
    let need = HEADER_BYTES + count * ATOM_BYTES;
    if bytes.len() < need {
        return Err(WireError::Truncated {
            need,
            have: bytes.len(),
        });
    }
    if bytes.len() > need {
        return Err(WireError::TrailingBytes {
            extra: bytes.len() - need,
        });
    }
    let mut atoms = Vec::with_capacity(count);
    for i in 0..count {
        let r = &bytes[HEADER_BYTES + i * ATOM_BYTES..][..ATOM_BYTES];
        let (kind, width, shift) = (r[0], r[1], r[2]);
        if r[3] != 0 || u16_at(r, 6) != 0 {
            return Err(WireError::Reserved { atom: Some(i) });
        }
        let width =
            FieldWidth::from_bytes(width as usize).ok_or(WireError::BadWidth { atom: i, width })?;
        let (off, mask, value) = (u16_at(r, 4), u32_at(r, 8), u32_at(r, 12));
        atoms.push(match kind {
            KIND_CMP if shift == 0 => Atom::Cmp {
                off,
                width,
                mask,
                value,
            },
            KIND_SHIFT if value == 0 => Atom::Shift {
                off,
                width,
                mask,
                shift,
            },
            KIND_CMP | KIND_SHIFT => return Err(WireError::Reserved { atom: Some(i) }),
            kind => return Err(WireError::BadKind { atom: i, kind }),
        });
    }
    Filter::new(atoms).map_err(WireError::Invalid)
}
