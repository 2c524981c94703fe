//! Corrupted objects on the kernel's download path (strict decode, then the
//! verifier with the kernel's limits), across filter-lang and ash-compiler.
//!
//! Two properties: every structural rule of `docs/OBJECT.md` broken on a
//! real object is refused with the error that names it; and whatever a
//! corruption leaves acceptable is safe to run: the JIT (every code
//! generation) and the interpreter run it in lockstep on hostile frames,
//! with no fault and the same effects. Refusals of handler words name the
//! instruction, and the source map of the unmodified object still leads
//! back to a DSL line.

use exo_tests::corpus::examples;
use exo_tests::download::{Refusal, build, download, source_span};
use exo_tests::engine::lockstep;
use exo_tests::frames::{self, Rng};
use exo_tests::sections::{Section, Sections};
use filter_lang::object::{ObjectError, kind as section};

/// The examples with a BPF handler: name and encoded object.
fn handler_objects() -> Vec<(String, Vec<u8>)> {
    let v: Vec<_> = examples()
        .into_iter()
        .filter(|e| e.source.contains("handler {"))
        .map(|e| {
            let (_, bytes) = build(&e.name, &e.source);
            (e.name, bytes)
        })
        .collect();
    assert!(v.len() >= 5, "only {} examples have handlers", v.len());
    v
}

fn object_error(bytes: &[u8]) -> ObjectError {
    match download(bytes) {
        Err(Refusal::Object(e)) => e,
        Err(other) => panic!("expected a decoding error, got: {other}"),
        Ok(_) => panic!("a corrupted object was accepted"),
    }
}

#[test]
fn every_truncation_is_refused_by_the_decoder() {
    for (name, bytes) in handler_objects() {
        assert!(download(&bytes).is_ok(), "{name}: the intact object");
        for len in 0..bytes.len() {
            let e = object_error(&bytes[..len]);
            assert!(!e.to_string().is_empty(), "{name}: empty message");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        object_error(&longer);
    }
}

#[test]
fn each_structural_rule_broken_is_refused_with_its_own_error() {
    for (name, bytes) in handler_objects() {
        let intact = Sections::parse(&bytes).expect("an encoder's object parses");
        assert_eq!(intact.to_bytes(), bytes, "{name}: the split is lossless");

        let mut s = intact.clone();
        s.header[..4].copy_from_slice(b"\x7fELF");
        assert!(matches!(object_error(&s.to_bytes()), ObjectError::BadMagic));

        let mut s = intact.clone();
        s.list.push(Section {
            kind: 99,
            reserved: 0,
            payload: vec![1, 2, 3],
        });
        assert!(
            matches!(object_error(&s.to_bytes()), ObjectError::UnknownSection(99)),
            "{name}"
        );

        let mut s = intact.clone();
        s.section_mut(section::HANDLER_BPF).reserved = 1;
        assert!(
            matches!(object_error(&s.to_bytes()), ObjectError::Reserved { .. }),
            "{name}"
        );

        let mut s = intact.clone();
        let i = s.find(section::HANDLER_BPF).unwrap();
        s.list.insert(i, s.list[i].clone());
        assert!(
            matches!(
                object_error(&s.to_bytes()),
                ObjectError::DuplicateSection(section::HANDLER_BPF)
            ),
            "{name}"
        );

        let mut s = intact.clone();
        let d = s.find(section::DECLS).unwrap();
        let h = s.find(section::HANDLER_BPF).unwrap();
        s.list.swap(d, h);
        assert!(
            matches!(
                object_error(&s.to_bytes()),
                ObjectError::SectionOrder { .. }
            ),
            "{name}"
        );

        let mut s = intact.clone();
        s.list.remove(s.find(section::DECLS).unwrap());
        assert!(
            matches!(
                object_error(&s.to_bytes()),
                ObjectError::DeclsMismatch { .. }
            ),
            "{name}"
        );

        // A handler length that is not whole instruction words.
        let mut s = intact.clone();
        s.section_mut(section::HANDLER_BPF).payload.push(0);
        assert!(
            matches!(
                object_error(&s.to_bytes()),
                ObjectError::BadProgramLength { .. }
            ),
            "{name}"
        );

        // A source map that describes fewer words than the handler has.
        if s.find(section::SOURCE_MAP).is_some() {
            let mut s = intact.clone();
            let h = s.section_mut(section::HANDLER_BPF);
            let len = h.payload.len();
            h.payload.extend_from_within(len - 8..);
            let e = object_error(&s.to_bytes());
            assert!(
                matches!(e, ObjectError::SourceMapLength { .. }),
                "{name}: {e:?}"
            );
        }
    }
}

/// Words that replace a handler instruction: exits, jumps far out, loads
/// and stores through every register, calls of unknown helpers.
fn hostile_words(rng: &mut Rng) -> [u8; 8] {
    const OPCODES: &[u8] = &[
        0x95, 0x05, 0x15, 0x85, 0x61, 0x69, 0x71, 0x79, 0x62, 0x63, 0x7b, 0x07, 0x0f, 0xbf, 0xb7,
        0x18, 0xdb, 0x34, 0x3f,
    ];
    let mut w = [0u8; 8];
    w[0] = OPCODES[rng.below(OPCODES.len() as u64) as usize];
    w[1] = rng.below(256) as u8;
    let off = (rng.below(64) as i16 - 32).to_le_bytes();
    w[2..4].copy_from_slice(&off);
    let imm = match rng.below(4) {
        0 => 0i32,
        1 => rng.below(64) as i32,
        2 => -(rng.below(64) as i32),
        _ => rng.next_u64() as i32,
    };
    w[4..].copy_from_slice(&imm.to_le_bytes());
    w
}

#[test]
fn what_a_corruption_leaves_acceptable_runs_safely_and_alike() {
    let mut rng = Rng::new(0x0b_1ec7);
    let mut hostile = frames::corpus(0x0b);
    hostile.truncate(48);
    let (mut accepted, mut refused_by_verifier, mut refused_by_decoder) = (0, 0, 0);
    for (name, bytes) in handler_objects() {
        let intact = Sections::parse(&bytes).unwrap();
        let ranges = intact.payload_ranges();
        for round in 0..60 {
            let mut b = bytes.clone();
            if round % 2 == 0 {
                // Bit flips anywhere inside one section's payload.
                let (_, r) = &ranges[rng.below(ranges.len() as u64) as usize];
                if r.is_empty() {
                    continue;
                }
                for _ in 0..1 + rng.below(3) {
                    let at = r.start + rng.below(r.len() as u64) as usize;
                    b[at] ^= 1 << rng.below(8);
                }
            } else {
                // One handler instruction replaced by a hostile one.
                let (_, r) = ranges
                    .iter()
                    .find(|(k, _)| *k == section::HANDLER_BPF)
                    .unwrap();
                let word = rng.below((r.len() / 8) as u64) as usize;
                let at = r.start + 8 * word;
                b[at..at + 8].copy_from_slice(&hostile_words(&mut rng));
            }
            match download(&b) {
                Ok(d) => {
                    accepted += 1;
                    if let Some(h) = d.handler {
                        lockstep(&h, &[], &hostile, false)
                            .unwrap_or_else(|e| panic!("{name} mutant {round}: {e}"));
                    }
                }
                Err(Refusal::Verify(e)) => {
                    refused_by_verifier += 1;
                    let text = e.to_string();
                    assert!(
                        text.contains(&e.pc.to_string()),
                        "{name}: the refusal does not name instruction {}: {text}",
                        e.pc
                    );
                }
                Err(Refusal::Object(e)) => {
                    refused_by_decoder += 1;
                    assert!(!e.to_string().is_empty());
                }
                Err(other) => panic!("{name} mutant {round}: unexpected refusal {other}"),
            }
        }
    }
    // The mix matters: mutants of all three fates were seen.
    assert!(
        accepted > 0 && refused_by_verifier > 0 && refused_by_decoder > 0,
        "accepted {accepted}, verifier refused {refused_by_verifier}, decoder refused {refused_by_decoder}"
    );
}

#[test]
fn a_verifier_refusal_leads_back_to_the_dsl_line() {
    // A load through an unchecked register planted in each example's
    // handler: the verifier refuses it at that instruction, and the
    // object's source map takes the instruction back to a line of the
    // handler's source.
    let mut located = 0;
    for ex in examples()
        .into_iter()
        .filter(|e| e.source.contains("handler {"))
    {
        let (c, bytes) = build(&ex.name, &ex.source);
        let object = c.object(&ex.name);
        let sections = Sections::parse(&bytes).unwrap();
        let (_, r) = sections
            .payload_ranges()
            .into_iter()
            .find(|(k, _)| *k == section::HANDLER_BPF)
            .unwrap();
        let handler_start = ex
            .source
            .lines()
            .position(|l| l.contains("handler {"))
            .unwrap()
            + 1;
        let last_line = ex.source.lines().count();
        for word in 1..r.len() / 8 {
            let mut b = bytes.clone();
            let at = r.start + 8 * word;
            // ldxdw r0, [r9 + 0]: r9 is never initialised by the DSL.
            b[at..at + 8].copy_from_slice(&[0x79, 0x90, 0, 0, 0, 0, 0, 0]);
            let Err(Refusal::Verify(e)) = download(&b) else {
                continue;
            };
            let Some(span) = source_span(&object, e.pc) else {
                continue;
            };
            let line = span.line as usize;
            assert!(
                line >= handler_start && line <= last_line,
                "{}: instruction {} maps to line {line}, outside the handler (lines {handler_start}..={last_line}): {e}",
                ex.name,
                e.pc
            );
            located += 1;
            break;
        }
    }
    assert!(located >= 5, "only {located} refusals led back to a line");
}
