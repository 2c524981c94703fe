//! The merged classifier classifies exactly like the filters checked one by
//! one, through insertions and removals, on arbitrary filters and frames.
#![no_main]

use arbitrary::Arbitrary;
use filter_lang::filter::{Atom, Classifier, FieldWidth, Filter, FilterId, classify_one_by_one};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum A {
    Cmp {
        off: u8,
        width: u8,
        mask: u32,
        value: u32,
    },
    Shift {
        off: u8,
        width: u8,
        mask: u8,
        shift: u8,
    },
}

#[derive(Arbitrary, Debug)]
enum Step {
    Insert(Vec<A>),
    /// A filter equal to an earlier one except for its last value.
    Sibling {
        of: u8,
        value: u32,
    },
    Remove(u8),
    Classify(Vec<u8>),
}

fn width(w: u8) -> FieldWidth {
    match w % 3 {
        0 => FieldWidth::B1,
        1 => FieldWidth::B2,
        _ => FieldWidth::B4,
    }
}

fn atom(a: &A) -> Atom {
    match *a {
        // Small offsets so filters share bytes and frames reach them.
        A::Cmp {
            off,
            width: w,
            mask,
            value,
        } => {
            let width = width(w);
            let mask = mask & width.full_mask();
            Atom::Cmp {
                off: (off % 48) as u16,
                width,
                mask,
                value: value & mask,
            }
        }
        A::Shift {
            off,
            width: w,
            mask,
            shift,
        } => Atom::Shift {
            off: (off % 32) as u16,
            width: width(w),
            mask: mask as u32 & 0x0f,
            shift: shift % 3,
        },
    }
}

fuzz_target!(|steps: Vec<Step>| {
    let mut c = Classifier::new();
    let mut live: Vec<(FilterId, Filter)> = Vec::new();
    for s in steps.iter().take(200) {
        match s {
            Step::Insert(atoms) => {
                let atoms: Vec<Atom> = atoms.iter().take(8).map(atom).collect();
                let f = Filter::new(atoms).expect("valid by construction");
                live.push((c.insert(f.clone(), live.len() as u32).unwrap(), f));
            }
            Step::Sibling { of, value } => {
                if live.is_empty() {
                    continue;
                }
                let mut atoms = live[*of as usize % live.len()].1.atoms().to_vec();
                if let Some(Atom::Cmp { mask, value: v, .. }) = atoms.last_mut() {
                    *v = value & *mask;
                }
                let f = Filter::new(atoms).unwrap();
                live.push((c.insert(f.clone(), 7).unwrap(), f));
            }
            Step::Remove(i) => {
                if live.is_empty() {
                    continue;
                }
                let (id, f) = live.swap_remove(*i as usize % live.len());
                assert_eq!(c.remove(id).map(|x| x.0), Some(f));
            }
            Step::Classify(frame) => {
                let want = classify_one_by_one(c.filters(), frame);
                assert_eq!(c.classify(frame), want);
            }
        }
    }
    for (id, _) in live {
        c.remove(id).unwrap();
    }
    assert_eq!(c.node_count(), 1);
});
