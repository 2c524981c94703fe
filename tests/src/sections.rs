//! An object's bytes split into header and sections (`docs/OBJECT.md`),
//! read without `filter_lang::object`, so tests can corrupt one section
//! and write the object out again with consistent lengths and count.

use filter_lang::object::{HEADER_BYTES, SECTION_HEADER_BYTES};

/// One section: its kind, its reserved field and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: u16,
    pub reserved: u16,
    pub payload: Vec<u8>,
}

/// An object as a header and a list of sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sections {
    /// The 20-byte header (its section count is rewritten by
    /// [`Sections::to_bytes`]).
    pub header: [u8; HEADER_BYTES],
    pub list: Vec<Section>,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl Sections {
    /// Splits a well-formed object; `None` if the lengths do not add up.
    pub fn parse(bytes: &[u8]) -> Option<Sections> {
        let header: [u8; HEADER_BYTES] = bytes.get(..HEADER_BYTES)?.try_into().ok()?;
        let count = u32_at(&header, 16);
        let mut at = HEADER_BYTES;
        let mut list = Vec::new();
        for _ in 0..count {
            let h = bytes.get(at..at + SECTION_HEADER_BYTES)?;
            let len = u32_at(h, 4) as usize;
            let start = at + SECTION_HEADER_BYTES;
            list.push(Section {
                kind: u16_at(h, 0),
                reserved: u16_at(h, 2),
                payload: bytes.get(start..start.checked_add(len)?)?.to_vec(),
            });
            at = start + len;
        }
        (at == bytes.len()).then_some(Sections { header, list })
    }

    /// The object's bytes, with the section count and every section
    /// length matching the list.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header.to_vec();
        out[16..20].copy_from_slice(&(self.list.len() as u32).to_le_bytes());
        for s in &self.list {
            out.extend_from_slice(&s.kind.to_le_bytes());
            out.extend_from_slice(&s.reserved.to_le_bytes());
            out.extend_from_slice(&(s.payload.len() as u32).to_le_bytes());
            out.extend_from_slice(&s.payload);
        }
        out
    }

    /// Index of the first section of `kind`.
    pub fn find(&self, kind: u16) -> Option<usize> {
        self.list.iter().position(|s| s.kind == kind)
    }

    /// The first section of `kind`, mutably.
    ///
    /// # Panics
    /// When there is none (the test's object lacks what it corrupts).
    pub fn section_mut(&mut self, kind: u16) -> &mut Section {
        let i = self
            .find(kind)
            .unwrap_or_else(|| panic!("the object has no section of kind {kind}"));
        &mut self.list[i]
    }

    /// Byte ranges of each section's payload in [`Sections::to_bytes`]'s
    /// output, with the section's kind.
    pub fn payload_ranges(&self) -> Vec<(u16, std::ops::Range<usize>)> {
        let mut at = HEADER_BYTES;
        self.list
            .iter()
            .map(|s| {
                let start = at + SECTION_HEADER_BYTES;
                at = start + s.payload.len();
                (s.kind, start..at)
            })
            .collect()
    }
}
