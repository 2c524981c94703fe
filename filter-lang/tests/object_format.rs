//! The object format: round trips, one malformed object per rule (each
//! rejected with its specific error), and the decoder on arbitrary bytes
//! (no panic; anything accepted is canonical).

use filter_lang::bpf::insn::Insn;
use filter_lang::bpf::program::Span;
use filter_lang::bpf::spec::{ProgramType, RegionDecl};
use filter_lang::filter::wire::WireError;
use filter_lang::filter::{Atom, FieldWidth, Filter};
use filter_lang::object::{
    Decls, HandlerCode, Object, ObjectError as E, SourceMap, Symbols, decode, encode, kind,
};
use proptest::prelude::*;

fn filter(port: u32) -> Filter {
    Filter::new(vec![
        Atom::Cmp {
            off: 12,
            width: FieldWidth::B2,
            mask: 0xffff,
            value: 0x800,
        },
        Atom::Shift {
            off: 14,
            width: FieldWidth::B1,
            mask: 0xf,
            shift: 2,
        },
        Atom::Cmp {
            off: 16,
            width: FieldWidth::B2,
            mask: 0xffff,
            value: port,
        },
    ])
    .unwrap()
}

fn words(n: usize) -> Vec<Insn> {
    // mov r0, 1; exit; padded with `ja +0`.
    let mut w = vec![Insn::new(0x05, 0, 0, 0, 0); n.saturating_sub(2)];
    w.push(Insn::new(0xb7, 0, 0, 0, 1));
    w.push(Insn::new(0x95, 0, 0, 0, 0));
    w
}

fn full() -> Object {
    let mut o = Object::new(ProgramType::Packet);
    o.filters = vec![filter(7), filter(9)];
    o.filter_program = Some(words(3));
    o.decls = Some(Decls {
        regions: vec![
            RegionDecl {
                size: 1600,
                writable: true,
            },
            RegionDecl {
                size: 64,
                writable: false,
            },
        ],
        counters: 2,
    });
    o.handler = Some(HandlerCode::Bpf(words(4)));
    o.source_map = Some(SourceMap {
        file: "echo.exo".into(),
        spans: vec![
            Some(Span { line: 1, col: 1 }),
            None,
            Some(Span { line: 3, col: 9 }),
            None,
        ],
    });
    o.symbols = Some(Symbols {
        regions: vec!["reply".into(), "table".into()],
        counters: vec!["echoed".into(), "too_big".into()],
    });
    o
}

#[test]
fn round_trips() {
    let wasm = {
        let mut o = Object::new(ProgramType::Packet);
        o.filters = vec![filter(7)];
        o.decls = Some(Decls::default());
        o.handler = Some(HandlerCode::Wasm(
            b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0".to_vec(),
        ));
        o
    };
    let memory = {
        let mut o = Object::new(ProgramType::Memory { size: 64 });
        o.decls = Some(Decls::default());
        o.handler = Some(HandlerCode::Bpf(words(2)));
        o
    };
    let filter_only = {
        let mut o = Object::new(ProgramType::Packet);
        o.filters = (0..1000).map(filter).collect();
        o
    };
    for o in [full(), wasm, memory, filter_only] {
        let b = encode(&o).unwrap();
        assert_eq!(decode(&b).unwrap(), o);
        assert_eq!(encode(&decode(&b).unwrap()).unwrap(), b);
    }
    let p = full().handler_program().unwrap();
    assert_eq!(p.span(2), Some(Span { line: 3, col: 9 }));
    assert_eq!(full().spec().regions.len(), 2);
}

/// Section `k`'s (offset of its header, length) in an encoded object.
fn find(b: &[u8], k: u16) -> (usize, usize) {
    let mut at = 20;
    loop {
        let kind = u16::from_le_bytes([b[at], b[at + 1]]);
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        if kind == k {
            return (at, len);
        }
        at += 8 + len;
    }
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn mutated(f: impl FnOnce(&mut Vec<u8>)) -> Result<Object, E> {
    let mut b = encode(&full()).unwrap();
    f(&mut b);
    decode(&b)
}

#[test]
fn each_rule_has_its_error() {
    let cases: Vec<(&str, Result<Object, E>, E)> = vec![
        (
            "empty input",
            decode(&[]),
            E::Truncated {
                what: "object header",
                need: 4,
                have: 0,
            },
        ),
        ("bad magic", mutated(|b| b[1] = b'X'), E::BadMagic),
        ("version 2", mutated(|b| b[4] = 2), E::UnsupportedVersion(2)),
        (
            "flags",
            mutated(|b| b[6] = 1),
            E::Reserved {
                what: "the header (flags)",
            },
        ),
        ("type 3", mutated(|b| b[8] = 3), E::BadProgramType(3)),
        (
            "type reserved",
            mutated(|b| b[9] = 1),
            E::Reserved {
                what: "the header (type)",
            },
        ),
        (
            "packet param",
            mutated(|b| set_u32(b, 12, 5)),
            E::TypeParameter(5),
        ),
        (
            "memory with filters",
            mutated(|b| b[8] = 2),
            E::FiltersNeedPacketType,
        ),
        (
            "count too large",
            mutated(|b| set_u32(b, 16, 1 << 30)),
            E::TooMany {
                what: "sections",
                max: 16_390,
            },
        ),
        (
            "count one short",
            mutated(|b| {
                let n = u32::from_le_bytes(b[16..20].try_into().unwrap());
                set_u32(b, 16, n - 1)
            }),
            E::TrailingBytes {
                what: "the last section",
                extra: 8 + (2 + 5) * 2 + (2 + 6) + (2 + 7),
            },
        ),
        (
            "truncated",
            mutated(|b| {
                b.pop();
            }),
            E::Truncated {
                what: "symbols",
                need: 31,
                have: 30,
            },
        ),
        (
            "unknown section",
            mutated(|b| b[20] = 9),
            E::UnknownSection(9),
        ),
        (
            "section reserved",
            mutated(|b| b[22] = 1),
            E::Reserved {
                what: "a section header",
            },
        ),
        (
            "order",
            mutated(|b| {
                let (at, _) = find(b, kind::DECLS);
                b[at] = kind::FILTER as u8;
            }),
            E::SectionOrder {
                kind: kind::FILTER,
                after: kind::FILTER_PROGRAM,
            },
        ),
        (
            "duplicate",
            mutated(|b| {
                let (at, _) = find(b, kind::HANDLER_BPF);
                b[at] = kind::DECLS as u8;
            }),
            E::DuplicateSection(kind::DECLS),
        ),
        (
            "filter atom kind",
            mutated(|b| b[20 + 8 + 4] = 7),
            E::Filter {
                index: 0,
                error: WireError::BadKind { atom: 0, kind: 7 },
            },
        ),
        (
            "program length",
            {
                let mut o = full();
                o.filter_program = None;
                let mut b = encode(&o).unwrap();
                let (at, len) = find(&b, kind::HANDLER_BPF);
                set_u32(&mut b, at + 4, len as u32 - 1);
                b.remove(at + 8);
                decode(&b)
            },
            E::BadProgramLength {
                kind: kind::HANDLER_BPF,
                len: 31,
            },
        ),
        (
            "region size 0",
            mutated(|b| {
                let (at, _) = find(b, kind::DECLS);
                set_u32(b, at + 8 + 8, 0)
            }),
            E::BadRegionSize { index: 0, size: 0 },
        ),
        (
            "region flags",
            mutated(|b| {
                let (at, _) = find(b, kind::DECLS);
                set_u32(b, at + 8 + 12, 2)
            }),
            E::BadRegionFlags { index: 0, flags: 2 },
        ),
        (
            "bad span",
            mutated(|b| {
                let (at, len) = find(b, kind::SOURCE_MAP);
                // The last span (line, col) = (0, 0): give it a column.
                set_u32(b, at + 8 + len - 4, 3)
            }),
            E::BadSpan { index: 3 },
        ),
        (
            "name utf-8",
            mutated(|b| {
                let (at, _) = find(b, kind::SYMBOLS);
                b[at + 8 + 2] = 0xff;
            }),
            E::BadName {
                what: "region names",
            },
        ),
        (
            "duplicate name",
            mutated(|b| {
                let (at, _) = find(b, kind::SYMBOLS);
                // "reply" -> "table" is the same length as "table".
                b[at + 8 + 2..at + 8 + 7].copy_from_slice(b"table");
            }),
            E::DuplicateName {
                what: "region names",
            },
        ),
    ];
    for (what, got, want) in cases {
        assert_eq!(got, Err(want), "{what}");
    }
}

#[test]
fn structural_rules() {
    let enc = |o: &Object| encode(o);
    let mut o = full();
    o.decls = None;
    o.symbols = None;
    assert_eq!(enc(&o), Err(E::DeclsMismatch { has_handler: true }));
    let mut o = full();
    o.handler = None;
    o.source_map = None;
    assert_eq!(enc(&o), Err(E::DeclsMismatch { has_handler: false }));
    let mut o = full();
    o.source_map.as_mut().unwrap().spans.pop();
    assert_eq!(enc(&o), Err(E::SourceMapLength { spans: 3, words: 4 }));
    let mut o = full();
    o.handler = Some(HandlerCode::Wasm(b"not wasm".to_vec()));
    o.source_map = None;
    assert_eq!(enc(&o), Err(E::BadWasm));
    let mut o = full();
    o.handler = Some(HandlerCode::Wasm(b"\0asm\x01\0\0\0".to_vec()));
    assert_eq!(enc(&o), Err(E::SourceMapWithoutHandler));
    let mut o = full();
    o.symbols.as_mut().unwrap().counters[0] = String::new();
    assert_eq!(
        enc(&o),
        Err(E::BadName {
            what: "counter names"
        })
    );
    let mut o = full();
    o.symbols.as_mut().unwrap().regions.pop();
    o.symbols.as_mut().unwrap().counters.push("extra".into());
    assert_eq!(enc(&o), Err(E::Inconsistent));
    assert_eq!(enc(&Object::new(ProgramType::Packet)), Err(E::Empty));
    let mut o = full();
    o.filters = (0..16_385).map(|i| filter(i % 65536)).collect();
    assert_eq!(
        enc(&o),
        Err(E::TooMany {
            what: "filters",
            max: 16_384
        })
    );
    // Both handlers: the BPF section, then a WebAssembly one.
    let mut b = enc(&full()).unwrap();
    let (at, len) = find(&b, kind::HANDLER_BPF);
    let wasm = b"\0asm\x01\0\0\0";
    let mut sec = vec![kind::HANDLER_WASM as u8, 0, 0, 0];
    sec.extend_from_slice(&(wasm.len() as u32).to_le_bytes());
    sec.extend_from_slice(wasm);
    let end = at + 8 + len;
    b.splice(end..end, sec);
    let n = u32::from_le_bytes(b[16..20].try_into().unwrap());
    set_u32(&mut b, 16, n + 1);
    assert_eq!(decode(&b), Err(E::TwoHandlers));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes: an error or a canonical object, never a panic.
    #[test]
    fn arbitrary_bytes(mut b in prop::collection::vec(any::<u8>(), 0..200), magic in any::<bool>()) {
        if magic && b.len() >= 8 {
            b[..8].copy_from_slice(b"\x7fEXO\x01\0\x01\0");
        }
        if let Ok(o) = decode(&b) {
            prop_assert_eq!(encode(&o).unwrap(), b);
        }
    }

    /// One corrupted byte of a valid object: an error or a canonical object.
    #[test]
    fn corrupted_byte(at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut b = encode(&full()).unwrap();
        let i = at.index(b.len());
        b[i] = v;
        if let Ok(o) = decode(&b) {
            prop_assert_eq!(encode(&o).unwrap(), b);
        }
    }
}
