//! `exo-filter` end to end for the JIT: the conformance suite on exo's JIT,
//! and `jit-dump` listings (verified, blinded, rejected).

mod support;

use std::path::PathBuf;
use support::{conformance_suite_passes, exo_filter, stdout};

fn program(name: &str, text: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("exo-filter-jit-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    let p = d.join(name);
    std::fs::write(&p, text).expect("written");
    p
}

#[test]
fn conformance_suite_passes_on_the_jit() {
    conformance_suite_passes("jit");
}

#[test]
fn jit_dump_lists_each_instruction_with_its_code() {
    let p = program("ret1.s", "mov %r0, 1\nexit\n");
    let o = exo_filter(&["jit-dump", &p.to_string_lossy(), "--type", "packet"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // The BPF instructions, each followed by its x86-64.
    let mov = out.find("0: mov %r0, 1").expect("first instruction listed");
    let eax = out.find("mov eax, 1").expect("its translation listed");
    let exit = out.find("1: exit").expect("second instruction listed");
    let ret = out[exit..]
        .find(" ret")
        .expect("the epilogue listed after exit");
    assert!(mov < eax && eax < exit && ret > 0, "{out}");
    // With blinding, the constant no longer appears as an immediate.
    let o = exo_filter(&["jit-dump", &p.to_string_lossy(), "--blind", "7"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("constants blinded") && !out.contains("mov eax, 1"),
        "{out}"
    );
}

#[test]
fn jit_dump_refuses_a_rejected_program() {
    // r0 is a pointer at exit: not a packet verdict.
    let p = program("bad.s", "mov %r0, %r1\nexit\n");
    let o = exo_filter(&["jit-dump", &p.to_string_lossy(), "--type", "packet"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("rejected:"), "{}", stdout(&o));
}
