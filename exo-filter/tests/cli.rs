//! The `exo-filter` binary end to end: `verify` verdicts and exit codes,
//! `asm`/`disasm` round trip, and the conformance suite on the interpreter.

mod support;

use std::path::{Path, PathBuf};
use support::{conformance_suite_passes, exo_filter, stdout};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("exo-filter-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn verify_accepts_rejects_and_fails_with_distinct_exit_codes() {
    let d = temp_dir("verify");
    let ok = write(&d, "ok.s", "mov %r0, 1\nexit\n");
    let o = exo_filter(&["verify", &ok, "--type", "packet"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).starts_with("accepted ("), "{}", stdout(&o));

    let bad = write(&d, "bad.s", "mov %r0, 0\nldxb %r2, [%r1+1]\nexit\n");
    let o = exo_filter(&["verify", &bad, "--type", "packet"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = stdout(&o);
    assert!(
        out.starts_with("rejected: insn 1: invalid context access"),
        "{out}"
    );
    assert!(
        out.contains("ldxb %r2, [%r1+1]") && out.contains("r1 = ptr(ctx)"),
        "{out}"
    );
    assert!(out.contains("(at line 2, column 1)"), "{out}");

    // The same program is fine as a memory program with a big enough buffer.
    let o = exo_filter(&["verify", &bad, "--type", "memory:2"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");

    let syntax = write(&d, "syntax.s", "mov %r0, 1\nfrobnicate %r1\n");
    let o = exo_filter(&["verify", &syntax, "--type", "packet"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2: unknown mnemonic"));

    let o = exo_filter(&["verify", "/nonexistent/x.s", "--type", "packet"]);
    assert_eq!(o.status.code(), Some(2));
    let o = exo_filter(&["verify", &ok, "--type", "socket"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn asm_then_disasm_round_trips() {
    let d = temp_dir("asm");
    let src = write(
        &d,
        "p.s",
        "ldxdw %r2, [%r1+0]\nldxdw %r3, [%r1+8]\nmov %r4, %r2\nadd %r4, 14\nmov %r0, 0\n\
         jgt %r4, %r3, out\nldxh %r5, [%r2+12]\njne %r5, 0x0008, out\nmov %r0, 1\nout:\nexit\n",
    );
    let bin = d.join("p.bin").to_string_lossy().into_owned();
    let o = exo_filter(&["asm", &src, "-o", &bin]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(std::fs::metadata(&bin).unwrap().len(), 10 * 8);
    let o = exo_filter(&["verify", &bin, "--type", "packet"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = exo_filter(&["disasm", &bin]);
    assert_eq!(o.status.code(), Some(0));
    let listing = write(&d, "again.s", &stdout(&o));
    let bin2 = d.join("again.bin").to_string_lossy().into_owned();
    assert_eq!(
        exo_filter(&["asm", &listing, "-o", &bin2]).status.code(),
        Some(0)
    );
    assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(&bin2).unwrap());
    // A truncated .bin is an input error.
    let short = d.join("short.bin");
    std::fs::write(&short, [0u8; 5]).unwrap();
    let o = exo_filter(&["disasm", &short.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn conformance_suite_passes_on_the_interpreter_with_the_verifier() {
    conformance_suite_passes("interp");
}

#[test]
fn conformance_reports_failures() {
    let d = temp_dir("conf");
    write(
        &d,
        "wrong.data",
        "-- asm\nmov %r0, 2\nexit\n-- result\n0x3\n",
    );
    write(
        &d,
        "right.data",
        "-- asm\nmov %r0, 3\nexit\n-- result\n0x3\n",
    );
    write(
        &d,
        "loops.data",
        "-- asm\nmov %r0, 1\nja -1\nexit\n-- result\n0x1\n",
    );
    let o = exo_filter(&["conformance", &d.to_string_lossy(), "--engine", "interp"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL wrong.data [interp]: r0 = 0x2, expected 0x3"),
        "{out}"
    );
    assert!(
        out.contains("FAIL loops.data [interp]: rejected by the verifier"),
        "{out}"
    );
    assert!(out.ends_with("1 passed, 2 failed\n"), "{out}");
}
