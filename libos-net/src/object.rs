//! Objects completed at run time, without an allocator.
//!
//! A handler is compiled ahead of time (the DSL compiler runs at build
//! time), but its filter may depend on what the library OS learns only
//! when it runs: its IPv4 address, a port. [`with_filter`] takes the
//! compiled object as a template and writes a copy whose filters are
//! replaced by one filter of exact comparisons; every other section
//! (declarations, handler, source map, symbols) is copied unchanged.
//!
//! Layout: `docs/OBJECT.md`; the filter's wire format: `docs/DSL.md`
//! part 1 (`filter_lang::filter::wire`). Only the structure is touched
//! here: the kernel decodes and verifies the result like any object, and
//! the host tests check this encoder against `filter_lang`'s decoder.

use core::fmt;

/// `0x7f 'E' 'X' 'O'`.
const MAGIC: [u8; 4] = [0x7f, b'E', b'X', b'O'];
const VERSION: u16 = 1;
const TYPE_PACKET: u8 = 1;
const HEADER: usize = 20;
const SECTION_HEADER: usize = 8;
const KIND_FILTER: u16 = 1;
const KIND_FILTER_PROGRAM: u16 = 2;
const FILTER_HEADER: usize = 4;
const ATOM: usize = 16;
/// Most atoms one filter may have (`filter_lang::filter::MAX_ATOMS`).
pub const MAX_ATOMS: usize = 64;

/// Width of a compared field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Width {
    B1 = 1,
    B2 = 2,
    B4 = 4,
}

/// One comparison: the `width` bytes at `off` in the frame, read in
/// network order and masked with `mask`, equal `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmp {
    pub off: u16,
    pub width: Width,
    pub mask: u32,
    pub value: u32,
}

/// Why no object was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectError {
    /// The template does not start like a version-1 packet object.
    NotAnObject,
    /// The template's sections run past its end, or bytes follow the last.
    Malformed,
    /// The template filters with a filter program, which a filter of
    /// comparisons would not replace.
    FilterProgram,
    /// No comparison, or more than [`MAX_ATOMS`].
    AtomCount(usize),
    /// A comparison's mask or value does not fit its width, or the value
    /// has bits outside the mask.
    BadAtom(usize),
    /// The output buffer holds fewer bytes than the object needs.
    BufferTooSmall { need: usize },
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotAnObject => write!(f, "the template is not a version-1 packet object"),
            Self::Malformed => write!(f, "the template's sections do not add up to its length"),
            Self::FilterProgram => {
                write!(
                    f,
                    "the template uses a filter program; only atom filters are replaced"
                )
            }
            Self::AtomCount(n) => write!(f, "a filter needs 1 to {MAX_ATOMS} comparisons, not {n}"),
            Self::BadAtom(i) => write!(
                f,
                "comparison {i}: mask or value wider than its field, or value bits outside the mask"
            ),
            Self::BufferTooSmall { need } => {
                write!(f, "the object needs a buffer of {need} bytes")
            }
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The template's sections as `(kind, whole section bytes)`.
fn sections(t: &[u8]) -> Result<impl Iterator<Item = (u16, &[u8])>, ObjectError> {
    if t.len() < HEADER || t[0..4] != MAGIC || u16_at(t, 4) != VERSION || t[8] != TYPE_PACKET {
        return Err(ObjectError::NotAnObject);
    }
    let count = u32_at(t, 16) as usize;
    // Walk once to validate, so the iterator below cannot go wrong.
    let mut at = HEADER;
    for _ in 0..count {
        let len = t
            .get(at + 4..at + SECTION_HEADER)
            .map(|b| u32_at(b, 0) as usize)
            .ok_or(ObjectError::Malformed)?;
        at = at
            .checked_add(SECTION_HEADER + len)
            .filter(|&end| end <= t.len())
            .ok_or(ObjectError::Malformed)?;
    }
    if at != t.len() {
        return Err(ObjectError::Malformed);
    }
    let mut at = HEADER;
    Ok((0..count).map(move |_| {
        let len = SECTION_HEADER + u32_at(t, at + 4) as usize;
        let s = &t[at..at + len];
        at += len;
        (u16_at(s, 0), s)
    }))
}

fn check_atoms(atoms: &[Cmp]) -> Result<(), ObjectError> {
    if atoms.is_empty() || atoms.len() > MAX_ATOMS {
        return Err(ObjectError::AtomCount(atoms.len()));
    }
    for (i, a) in atoms.iter().enumerate() {
        let full = match a.width {
            Width::B1 => 0xFF,
            Width::B2 => 0xFFFF,
            Width::B4 => u32::MAX,
        };
        if a.mask & !full != 0 || a.value & !a.mask != 0 || a.mask == 0 {
            return Err(ObjectError::BadAtom(i));
        }
    }
    Ok(())
}

/// Writes `template` with its filters replaced by the conjunction of
/// `atoms` into `out`; returns the object (the start of `out`).
pub fn with_filter<'o>(
    template: &[u8],
    atoms: &[Cmp],
    out: &'o mut [u8],
) -> Result<&'o [u8], ObjectError> {
    check_atoms(atoms)?;
    let filter_len = FILTER_HEADER + ATOM * atoms.len();
    let (mut kept, mut kept_bytes) = (0u32, 0usize);
    for (kind, s) in sections(template)? {
        match kind {
            KIND_FILTER => {}
            KIND_FILTER_PROGRAM => return Err(ObjectError::FilterProgram),
            _ => {
                kept += 1;
                kept_bytes += s.len();
            }
        }
    }
    let need = HEADER + SECTION_HEADER + filter_len + kept_bytes;
    if out.len() < need {
        return Err(ObjectError::BufferTooSmall { need });
    }
    out[..16].copy_from_slice(&template[..16]);
    out[16..20].copy_from_slice(&(kept + 1).to_le_bytes());
    // The filter section first: its kind (1) is the lowest, and section
    // kinds must ascend.
    let mut at = HEADER;
    out[at..at + 2].copy_from_slice(&KIND_FILTER.to_le_bytes());
    out[at + 2..at + 4].fill(0);
    out[at + 4..at + 8].copy_from_slice(&(filter_len as u32).to_le_bytes());
    at += SECTION_HEADER;
    out[at..at + 2].copy_from_slice(&(atoms.len() as u16).to_le_bytes());
    out[at + 2..at + 4].fill(0);
    at += FILTER_HEADER;
    for a in atoms {
        let r = &mut out[at..at + ATOM];
        // kind 0 (cmp), width, shift 0, reserved 0; off, reserved 0.
        r[0..4].copy_from_slice(&[0, a.width as u8, 0, 0]);
        r[4..6].copy_from_slice(&a.off.to_le_bytes());
        r[6..8].fill(0);
        r[8..12].copy_from_slice(&a.mask.to_le_bytes());
        r[12..16].copy_from_slice(&a.value.to_le_bytes());
        at += ATOM;
    }
    for (kind, s) in sections(template)? {
        if kind != KIND_FILTER {
            out[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
    }
    debug_assert_eq!(at, need);
    Ok(&out[..need])
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use filter_lang::filter::{Atom, FieldWidth, Filter};
    use filter_lang::object::{decode, encode};
    use std::vec;
    use std::vec::Vec;

    fn template() -> Vec<u8> {
        let src = "filter \"udp dst port 9\"\nfilter \"udp dst port 10\"\n\
                   region r: bytes[64] writable\ncounter c\n\
                   handler {\n count(c)\n return consume\n}\n";
        let c = filter_lang::dsl::compile(src).expect("compiles");
        encode(&c.object("t.exo")).expect("encodes")
    }

    const ATOMS: [Cmp; 2] = [
        Cmp {
            off: 12,
            width: Width::B2,
            mask: 0xFFFF,
            value: 0x0806,
        },
        Cmp {
            off: 38,
            width: Width::B4,
            mask: u32::MAX,
            value: 0x0A4D_0002,
        },
    ];

    #[test]
    fn the_filters_are_replaced_and_everything_else_kept() {
        let t = template();
        let mut buf = [0u8; 8192];
        let o = with_filter(&t, &ATOMS, &mut buf).expect("written");
        let got = decode(o).expect("the kernel's decoder accepts it");
        let want = Filter::new(vec![
            Atom::Cmp {
                off: 12,
                width: FieldWidth::B2,
                mask: 0xFFFF,
                value: 0x0806,
            },
            Atom::Cmp {
                off: 38,
                width: FieldWidth::B4,
                mask: u32::MAX,
                value: 0x0A4D_0002,
            },
        ])
        .unwrap();
        assert_eq!(got.filters, vec![want]);
        let mut orig = decode(&t).unwrap();
        assert!(orig.filters.len() >= 2, "the template has several filters");
        orig.filters = got.filters.clone();
        assert_eq!(got, orig, "handler, declarations, source map, symbols kept");
        // Canonical: the decoder's own encoding gives the same bytes.
        assert_eq!(encode(&got).unwrap(), o);
    }

    #[test]
    fn bad_templates_atoms_and_buffers_are_refused() {
        let t = template();
        let mut buf = [0u8; 8192];
        assert_eq!(
            with_filter(&t[..10], &ATOMS, &mut buf),
            Err(ObjectError::NotAnObject)
        );
        assert_eq!(
            with_filter(&t[..t.len() - 1], &ATOMS, &mut buf),
            Err(ObjectError::Malformed)
        );
        let mut longer = t.clone();
        longer.push(0);
        assert_eq!(
            with_filter(&longer, &ATOMS, &mut buf),
            Err(ObjectError::Malformed)
        );
        let mut huge = t.clone();
        // The first section's length: past the end.
        huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            with_filter(&huge, &ATOMS, &mut buf),
            Err(ObjectError::Malformed)
        );
        assert_eq!(
            with_filter(&t, &[], &mut buf),
            Err(ObjectError::AtomCount(0))
        );
        let wide = Cmp {
            mask: 0x1FFFF,
            ..ATOMS[0]
        };
        assert_eq!(
            with_filter(&t, &[ATOMS[1], wide], &mut buf),
            Err(ObjectError::BadAtom(1))
        );
        let outside = Cmp {
            mask: 0xFF00,
            ..ATOMS[0]
        };
        assert_eq!(
            with_filter(&t, &[outside], &mut buf),
            Err(ObjectError::BadAtom(0))
        );
        let need = with_filter(&t, &ATOMS, &mut buf).unwrap().len();
        assert_eq!(
            with_filter(&t, &ATOMS, &mut buf[..need - 1]),
            Err(ObjectError::BufferTooSmall { need })
        );
    }
}
