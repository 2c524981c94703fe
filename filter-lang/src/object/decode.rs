//! The strict decoder. Every length is checked before it is used, every
//! count is bounded before anything is allocated for it, every reserved
//! field must be zero, and the result must be the object's one canonical
//! encoding (so `encode(decode(b)) == b` for every accepted `b`).

use super::error::ObjectError as E;
use super::{
    Decls, HEADER_BYTES, HandlerCode, MAGIC, Object, SECTION_HEADER_BYTES, SourceMap, Symbols,
    VERSION, kind, limits,
};
use crate::bpf::insn::Insn;
use crate::bpf::program::Span;
use crate::bpf::spec::{ProgramType, RegionDecl};
use crate::filter::wire;
use alloc::string::String;
use alloc::vec::Vec;

/// A cursor over bytes that never reads past the end.
struct Reader<'b> {
    b: &'b [u8],
    what: &'static str,
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Result<&'b [u8], E> {
        if self.b.len() < n {
            return Err(E::Truncated {
                what: self.what,
                need: n,
                have: self.b.len(),
            });
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, E> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, E> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, E> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn zero(&mut self, n: usize, what: &'static str) -> Result<(), E> {
        if self.take(n)?.iter().any(|&x| x != 0) {
            return Err(E::Reserved { what });
        }
        Ok(())
    }

    fn end(&self) -> Result<(), E> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(E::TrailingBytes {
                what: self.what,
                extra: self.b.len(),
            })
        }
    }

    fn name(&mut self, what: &'static str, max: usize) -> Result<String, E> {
        let n = self.u16()? as usize;
        if n == 0 || n > max {
            return Err(E::BadName { what });
        }
        let bytes = self.take(n)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| E::BadName { what })
    }
}

fn words(kind: u16, b: &[u8]) -> Result<Vec<Insn>, E> {
    if b.is_empty() || !b.len().is_multiple_of(Insn::SIZE) {
        return Err(E::BadProgramLength { kind, len: b.len() });
    }
    if b.len() / Insn::SIZE > limits::MAX_WORDS {
        return Err(E::TooMany {
            what: "instruction words",
            max: limits::MAX_WORDS,
        });
    }
    Ok(b.chunks_exact(Insn::SIZE)
        .map(|c| Insn::from_bytes(c.try_into().expect("8-byte chunk")))
        .collect())
}

fn decls(b: &[u8]) -> Result<Decls, E> {
    let mut r = Reader {
        b,
        what: "declarations section",
    };
    let counters = r.u32()?;
    if counters > limits::MAX_COUNTERS {
        return Err(E::TooMany {
            what: "counters",
            max: limits::MAX_COUNTERS as usize,
        });
    }
    let n = r.u32()? as usize;
    if n > limits::MAX_REGIONS {
        return Err(E::TooMany {
            what: "regions",
            max: limits::MAX_REGIONS,
        });
    }
    let mut regions = Vec::with_capacity(n);
    for index in 0..n {
        let size = r.u32()?;
        let flags = r.u32()?;
        if size == 0 || size > limits::MAX_REGION_BYTES {
            return Err(E::BadRegionSize { index, size });
        }
        if flags & !1 != 0 {
            return Err(E::BadRegionFlags { index, flags });
        }
        regions.push(RegionDecl {
            size,
            writable: flags & 1 != 0,
        });
    }
    r.end()?;
    Ok(Decls { regions, counters })
}

fn source_map(b: &[u8]) -> Result<SourceMap, E> {
    let mut r = Reader {
        b,
        what: "source map section",
    };
    let file = r.name("source file name", limits::MAX_FILE_NAME)?;
    r.zero(2, "the source map")?;
    let n = r.u32()? as usize;
    if n > limits::MAX_WORDS {
        return Err(E::TooMany {
            what: "source map spans",
            max: limits::MAX_WORDS,
        });
    }
    let mut spans = Vec::with_capacity(n);
    for index in 0..n {
        let line = r.u32()?;
        let col = r.u32()?;
        spans.push(match (line, col) {
            (0, 0) => None,
            (0, _) => return Err(E::BadSpan { index }),
            (line, col) => Some(Span { line, col }),
        });
    }
    r.end()?;
    Ok(SourceMap { file, spans })
}

fn symbols(b: &[u8], d: &Decls) -> Result<Symbols, E> {
    let mut r = Reader {
        b,
        what: "symbols section",
    };
    let mut names = |count: usize, what: &'static str| -> Result<Vec<String>, E> {
        let mut v: Vec<String> = Vec::with_capacity(count.min(limits::MAX_REGIONS));
        for _ in 0..count {
            let n = r.name(what, limits::MAX_NAME)?;
            if v.contains(&n) {
                return Err(E::DuplicateName { what });
            }
            v.push(n);
        }
        Ok(v)
    };
    let regions = names(d.regions.len(), "region names")?;
    let counters = names(d.counters as usize, "counter names")?;
    r.end()?;
    Ok(Symbols { regions, counters })
}

/// Decodes and validates an object.
pub fn decode(bytes: &[u8]) -> Result<Object, E> {
    let mut r = Reader {
        b: bytes,
        what: "object header",
    };
    if bytes.len() >= MAGIC.len() && bytes[..MAGIC.len()] != MAGIC {
        return Err(E::BadMagic);
    }
    if r.take(4)? != MAGIC {
        return Err(E::BadMagic);
    }
    let version = r.u16()?;
    if version != VERSION {
        return Err(E::UnsupportedVersion(version));
    }
    r.zero(2, "the header (flags)")?;
    let ty = r.u8()?;
    r.zero(3, "the header (type)")?;
    let param = r.u32()?;
    let ty = match ty {
        1 if param == 0 => ProgramType::Packet,
        1 => return Err(E::TypeParameter(param)),
        2 => ProgramType::Memory { size: param },
        t => return Err(E::BadProgramType(t)),
    };
    let count = r.u32()? as usize;
    if count > limits::MAX_FILTERS + 6 {
        return Err(E::TooMany {
            what: "sections",
            max: limits::MAX_FILTERS + 6,
        });
    }
    debug_assert_eq!(bytes.len() - r.b.len(), HEADER_BYTES);
    let mut obj = Object::new(ty);
    let mut last = 0u16;
    let mut bodies: [Option<&[u8]>; 8] = [None; 8];
    for _ in 0..count {
        r.what = "section header";
        let k = r.u16()?;
        r.zero(2, "a section header")?;
        let len = r.u32()? as usize;
        r.what = super::error::section_name(k);
        if !(kind::FILTER..=kind::SYMBOLS).contains(&k) {
            return Err(E::UnknownSection(k));
        }
        if k < last {
            return Err(E::SectionOrder {
                kind: k,
                after: last,
            });
        }
        if k == last && k != kind::FILTER {
            return Err(E::DuplicateSection(k));
        }
        last = k;
        let body = r.take(len)?;
        if k == kind::FILTER {
            if obj.filters.len() >= limits::MAX_FILTERS {
                return Err(E::TooMany {
                    what: "filters",
                    max: limits::MAX_FILTERS,
                });
            }
            let f = wire::decode(body).map_err(|error| E::Filter {
                index: obj.filters.len(),
                error,
            })?;
            obj.filters.push(f);
        } else {
            bodies[k as usize] = Some(body);
        }
    }
    r.what = "the last section";
    r.end()?;
    debug_assert_eq!(SECTION_HEADER_BYTES, 8);

    if let Some(b) = bodies[kind::FILTER_PROGRAM as usize] {
        obj.filter_program = Some(words(kind::FILTER_PROGRAM, b)?);
    }
    match (
        bodies[kind::HANDLER_BPF as usize],
        bodies[kind::HANDLER_WASM as usize],
    ) {
        (Some(_), Some(_)) => return Err(E::TwoHandlers),
        (Some(b), None) => obj.handler = Some(HandlerCode::Bpf(words(kind::HANDLER_BPF, b)?)),
        (None, Some(b)) => {
            if b.len() > limits::MAX_WASM {
                return Err(E::TooMany {
                    what: "WebAssembly bytes",
                    max: limits::MAX_WASM,
                });
            }
            if b.len() < 8 || b[..8] != *b"\0asm\x01\0\0\0" {
                return Err(E::BadWasm);
            }
            obj.handler = Some(HandlerCode::Wasm(b.to_vec()));
        }
        (None, None) => {}
    }
    match (bodies[kind::DECLS as usize], obj.handler.is_some()) {
        (Some(b), true) => obj.decls = Some(decls(b)?),
        (None, false) => {}
        (_, has_handler) => return Err(E::DeclsMismatch { has_handler }),
    }
    if let Some(b) = bodies[kind::SOURCE_MAP as usize] {
        let Some(HandlerCode::Bpf(w)) = &obj.handler else {
            return Err(E::SourceMapWithoutHandler);
        };
        let m = source_map(b)?;
        if m.spans.len() != w.len() {
            return Err(E::SourceMapLength {
                spans: m.spans.len(),
                words: w.len(),
            });
        }
        obj.source_map = Some(m);
    }
    if let Some(b) = bodies[kind::SYMBOLS as usize] {
        let Some(d) = &obj.decls else {
            return Err(E::SymbolsWithoutDecls);
        };
        obj.symbols = Some(symbols(b, d)?);
    }
    let has_filter = !obj.filters.is_empty() || obj.filter_program.is_some();
    if !has_filter && obj.handler.is_none() {
        return Err(E::Empty);
    }
    if has_filter && obj.ty != ProgramType::Packet {
        return Err(E::FiltersNeedPacketType);
    }
    Ok(obj)
}
