//! The encoder: writes the canonical encoding, then decodes it back so an
//! object that breaks a rule of the format (too many filters, a name too
//! long, a source map of the wrong length) is an error here rather than a
//! file the kernel refuses.

use super::error::ObjectError;
use super::{HandlerCode, MAGIC, Object, VERSION, decode, kind};
use crate::bpf::insn::Insn;
use crate::bpf::spec::ProgramType;
use crate::filter::wire;
use alloc::vec::Vec;

fn section(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
}

fn words(w: &[Insn]) -> Vec<u8> {
    w.iter().flat_map(|i| i.to_bytes()).collect()
}

fn name(out: &mut Vec<u8>, s: &str) {
    // Lengths beyond u16 are cut to 0 here and rejected by the decode below.
    let n = u16::try_from(s.len()).unwrap_or(0);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n as usize]);
}

/// Encodes `obj`; fails with the decoder's error when `obj` breaks a rule
/// of the format.
pub fn encode(obj: &Object) -> Result<Vec<u8>, ObjectError> {
    let mut sections: Vec<(u16, Vec<u8>)> = Vec::new();
    for f in &obj.filters {
        sections.push((kind::FILTER, wire::encode(f)));
    }
    if let Some(p) = &obj.filter_program {
        sections.push((kind::FILTER_PROGRAM, words(p)));
    }
    if let Some(d) = &obj.decls {
        let mut b = Vec::new();
        b.extend_from_slice(&d.counters.to_le_bytes());
        b.extend_from_slice(&(d.regions.len() as u32).to_le_bytes());
        for r in &d.regions {
            b.extend_from_slice(&r.size.to_le_bytes());
            b.extend_from_slice(&(r.writable as u32).to_le_bytes());
        }
        sections.push((kind::DECLS, b));
    }
    match &obj.handler {
        Some(HandlerCode::Bpf(w)) => sections.push((kind::HANDLER_BPF, words(w))),
        Some(HandlerCode::Wasm(m)) => sections.push((kind::HANDLER_WASM, m.clone())),
        None => {}
    }
    if let Some(m) = &obj.source_map {
        let mut b = Vec::new();
        name(&mut b, &m.file);
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&(m.spans.len() as u32).to_le_bytes());
        for s in &m.spans {
            let (line, col) = s.map_or((0, 0), |s| (s.line, s.col));
            b.extend_from_slice(&line.to_le_bytes());
            b.extend_from_slice(&col.to_le_bytes());
        }
        sections.push((kind::SOURCE_MAP, b));
    }
    if let Some(s) = &obj.symbols {
        let mut b = Vec::new();
        for n in s.regions.iter().chain(&s.counters) {
            name(&mut b, n);
        }
        sections.push((kind::SYMBOLS, b));
    }
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    let (ty, param) = match obj.ty {
        ProgramType::Packet => (1u8, 0u32),
        ProgramType::Memory { size } => (2, size),
    };
    out.extend_from_slice(&[ty, 0, 0, 0]);
    out.extend_from_slice(&param.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    for (k, body) in &sections {
        section(&mut out, *k, body);
    }
    let back = decode(&out)?;
    if back != *obj {
        // Only possible when a count in `obj` disagrees with what was
        // written (e.g. fewer symbol names than declarations).
        return Err(ObjectError::Inconsistent);
    }
    Ok(out)
}
