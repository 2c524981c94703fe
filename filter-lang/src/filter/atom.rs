//! Filter atoms and filters: the declarative demultiplexing language.
//!
//! A [`Filter`] is a conjunction of [`Atom`]s evaluated left to right over a
//! frame (the first byte of the Ethernet II header is offset 0). A *base*
//! starts at 0; [`Atom::Cmp`] loads a field at `base + off` and compares it,
//! [`Atom::Shift`] loads a field and moves the base forward by the masked,
//! scaled field value (the IPv4 header length idiom). A field that does not
//! lie entirely inside the frame makes the filter not match; nothing ever
//! faults, whatever the frame holds or however long it is.

use alloc::vec::Vec;
use core::fmt;

/// Width of a loaded field in bytes; fields are read in network byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum FieldWidth {
    /// One byte.
    B1,
    /// Two bytes, big-endian.
    B2,
    /// Four bytes, big-endian.
    B4,
}

impl FieldWidth {
    /// The width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            FieldWidth::B1 => 1,
            FieldWidth::B2 => 2,
            FieldWidth::B4 => 4,
        }
    }

    /// The width for `n` bytes, if `n` is 1, 2 or 4.
    pub const fn from_bytes(n: usize) -> Option<FieldWidth> {
        match n {
            1 => Some(FieldWidth::B1),
            2 => Some(FieldWidth::B2),
            4 => Some(FieldWidth::B4),
            _ => None,
        }
    }

    /// All bits a field of this width can hold.
    pub const fn full_mask(self) -> u32 {
        match self {
            FieldWidth::B1 => 0xff,
            FieldWidth::B2 => 0xffff,
            FieldWidth::B4 => 0xffff_ffff,
        }
    }
}

/// Largest shift amount a [`Atom::Shift`] may use.
pub const MAX_SHIFT: u8 = 16;

/// Most atoms a filter may have (bounds the classifier's recursion depth).
pub const MAX_ATOMS: usize = 64;

/// One test of a filter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Atom {
    /// `(field(base + off, width) & mask) == value`. A mask of 0 only checks
    /// that the field lies inside the frame (a length test).
    Cmp {
        off: u16,
        width: FieldWidth,
        mask: u32,
        value: u32,
    },
    /// `base += (field(base + off, width) & mask) << shift`.
    Shift {
        off: u16,
        width: FieldWidth,
        mask: u32,
        shift: u8,
    },
}

/// What the classifier keys a comparison on: every [`Atom::Cmp`] with the
/// same shape at the same trie node shares one hash-dispatch node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct CmpShape {
    pub off: u16,
    pub width: FieldWidth,
    pub mask: u32,
}

impl CmpShape {
    /// Loads this shape's masked field at `base`, or `None` when the field is
    /// not entirely inside `frame`.
    #[inline]
    pub fn load(&self, frame: &[u8], base: usize) -> Option<u32> {
        load(frame, base, self.off, self.width).map(|v| v & self.mask)
    }
}

/// Why an atom or filter is not well formed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FilterError {
    /// The mask has bits outside the field's width.
    MaskTooWide { atom: usize, mask: u32, width: u8 },
    /// The value has bits outside the mask, so the atom could never match.
    ValueOutsideMask { atom: usize, value: u32, mask: u32 },
    /// A shift amount above [`MAX_SHIFT`].
    ShiftTooLarge { atom: usize, shift: u8 },
    /// More than [`MAX_ATOMS`] atoms.
    TooManyAtoms { count: usize },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FilterError::MaskTooWide { atom, mask, width } => write!(
                f,
                "atom {atom}: mask {mask:#x} has bits outside a {width}-byte field; narrow the mask"
            ),
            FilterError::ValueOutsideMask { atom, value, mask } => write!(
                f,
                "atom {atom}: value {value:#x} has bits outside mask {mask:#x}, so it can never match; \
                 use value & mask"
            ),
            FilterError::ShiftTooLarge { atom, shift } => write!(
                f,
                "atom {atom}: shift {shift} exceeds the maximum {MAX_SHIFT}"
            ),
            FilterError::TooManyAtoms { count } => write!(
                f,
                "filter has {count} atoms; at most {MAX_ATOMS} are allowed, split it"
            ),
        }
    }
}

/// Reads a big-endian field of `width` bytes at `base + off`, or `None` when
/// it is not entirely inside `frame`.
#[inline]
pub fn load(frame: &[u8], base: usize, off: u16, width: FieldWidth) -> Option<u32> {
    let start = base.checked_add(off as usize)?;
    let end = start.checked_add(width.bytes())?;
    let b = frame.get(start..end)?;
    Some(match width {
        FieldWidth::B1 => b[0] as u32,
        FieldWidth::B2 => u16::from_be_bytes([b[0], b[1]]) as u32,
        FieldWidth::B4 => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
    })
}

impl Atom {
    /// Checks the atom's own consistency (`index` is used in errors).
    pub fn validate(&self, index: usize) -> Result<(), FilterError> {
        let (width, mask) = match *self {
            Atom::Cmp {
                width, mask, value, ..
            } => {
                if value & !mask != 0 {
                    return Err(FilterError::ValueOutsideMask {
                        atom: index,
                        value,
                        mask,
                    });
                }
                (width, mask)
            }
            Atom::Shift {
                width, mask, shift, ..
            } => {
                if shift > MAX_SHIFT {
                    return Err(FilterError::ShiftTooLarge { atom: index, shift });
                }
                (width, mask)
            }
        };
        if mask & !width.full_mask() != 0 {
            return Err(FilterError::MaskTooWide {
                atom: index,
                mask,
                width: width.bytes() as u8,
            });
        }
        Ok(())
    }

    /// Applies the atom at `base`: `Some(new base)` if it holds, `None` if the
    /// comparison fails or the field is outside the frame.
    #[inline]
    pub fn apply(&self, frame: &[u8], base: usize) -> Option<usize> {
        match *self {
            Atom::Cmp {
                off,
                width,
                mask,
                value,
            } => {
                let v = load(frame, base, off, width)?;
                (v & mask == value).then_some(base)
            }
            Atom::Shift {
                off,
                width,
                mask,
                shift,
            } => {
                let v = load(frame, base, off, width)? & mask;
                // v < 2^32 and shift <= 16: fits in u64, and a base past
                // any frame simply fails the next load.
                let add = (v as u64) << shift;
                Some(base.saturating_add(usize::try_from(add).unwrap_or(usize::MAX)))
            }
        }
    }

    /// The shape of a comparison atom (`None` for a shift).
    pub fn cmp_shape(&self) -> Option<(CmpShape, u32)> {
        match *self {
            Atom::Cmp {
                off,
                width,
                mask,
                value,
            } => Some((CmpShape { off, width, mask }, value)),
            Atom::Shift { .. } => None,
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Atom::Cmp {
                off,
                width,
                mask,
                value,
            } => write!(f, "[{off}:{}] & {mask:#x} == {value:#x}", width.bytes()),
            Atom::Shift {
                off,
                width,
                mask,
                shift,
            } => write!(
                f,
                "base += ([{off}:{}] & {mask:#x}) << {shift}",
                width.bytes()
            ),
        }
    }
}

/// A validated conjunction of atoms.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Filter {
    atoms: Vec<Atom>,
}

impl Filter {
    /// Builds a filter, checking every atom and the atom count.
    pub fn new(atoms: Vec<Atom>) -> Result<Filter, FilterError> {
        if atoms.len() > MAX_ATOMS {
            return Err(FilterError::TooManyAtoms { count: atoms.len() });
        }
        for (i, a) in atoms.iter().enumerate() {
            a.validate(i)?;
        }
        Ok(Filter { atoms })
    }

    /// The atoms, in evaluation order.
    pub fn atoms(&self) -> &[Atom] {
        &self.atoms
    }

    /// Number of atoms (the filter's priority in the classifier).
    pub fn len(&self) -> usize {
        self.atoms.len()
    }

    /// Whether the filter has no atoms (it matches every frame).
    pub fn is_empty(&self) -> bool {
        self.atoms.is_empty()
    }

    /// The reference semantics: does `frame` satisfy every atom?
    pub fn matches(&self, frame: &[u8]) -> bool {
        let mut base = 0usize;
        for a in &self.atoms {
            match a.apply(frame, base) {
                Some(b) => base = b,
                None => return false,
            }
        }
        true
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.atoms.iter().enumerate() {
            if i > 0 {
                f.write_str(" && ")?;
            }
            write!(f, "{a}")?;
        }
        if self.atoms.is_empty() {
            f.write_str("true")?;
        }
        Ok(())
    }
}
