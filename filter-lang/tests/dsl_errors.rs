//! Error reports of the handler language: snapshots of the rendered text
//! (parse, name, type and range errors, and a verifier rejection pointing
//! at the DSL line), and robustness: no input makes the compiler panic, and
//! whatever it emits passes the verifier.

use filter_lang::bpf::program::Program;
use filter_lang::bpf::verifier::{VerifyErrorKind, verify};
use filter_lang::dsl::{self, ErrorKind};
use proptest::prelude::*;

#[test]
fn error_snapshots() {
    let cases: &[(&str, &str)] = &[
        (
            "filter \"udp port 7\"\nhandler {\n    let x = udp.dport +\n}\n",
            "error at 4:1: expected a value: a number, a name, a field such as `udp.dport`, or `(`, found `}`\n  | }\n  | ^\n  = hint: statements are `let x = ...`, `if ... { }`, `for i in 0..N { }`, `return consume|deliver`, assignments and helper calls (docs/DSL.md)",
        ),
        (
            "filter \"udp port 7\"\nhandler {\n    if udp.dport == 7 {\n        return consume\n    }\n",
            "error at 6:1: expected `}`, found the end of the file\n  | \n  | ^\n  = hint: statements are `let x = ...`, `if ... { }`, `for i in 0..N { }`, `return consume|deliver`, assignments and helper calls (docs/DSL.md)",
        ),
        (
            "filter \"udp port 70000\"\n",
            "error at 1:18: in the filter: port 70000 is out of range (at most 65535)\n  | filter \"udp port 70000\"\n  |                  ^^^^^\n  = hint: use a value within the range shown",
        ),
        (
            "region r: bytes[16]\n",
            "error at 1:1: the file has no `filter`\n  | region r: bytes[16]\n  | ^\n  = hint: add a line such as `filter \"udp dst port 7\"`",
        ),
        (
            "filter \"udp\"\nhandler {\n    let x = 5 $ 3\n    return deliver\n}\n",
            "error at 3:15: unexpected character '$'\n  |     let x = 5 $ 3\n  |               ^\n  = hint: see docs/DSL.md for the tokens of the handler language",
        ),
        (
            "filter \"udp\"\nhandler {\n    if tcp.flags & TCP_SYN {\n        return consume\n    }\n    return deliver\n}\n",
            "error at 3:8: expected a condition, found an integer\n  |     if tcp.flags & TCP_SYN {\n  |        ^^^^^^^^^^^^^^^^^^^\n  = hint: compare explicitly, e.g. `x != 0` or `tcp.flags & TCP_SYN != 0`",
        ),
        (
            "filter \"udp\"\nhandler {\n    let p = udp.dprt\n    return deliver\n}\n",
            "error at 3:17: udp has no field `dprt`\n  |     let p = udp.dprt\n  |                 ^^^^\n  = hint: fields of udp: sport, dport, len, checksum",
        ),
        (
            "filter \"udp\"\nregion table: u32[16]\nhandler {\n    table[0] = 1\n    return deliver\n}\n",
            "error at 4:5: region `table` is not writable\n  |     table[0] = 1\n  |     ^^^^^^^^\n  = hint: declare the region `writable`",
        ),
        (
            "filter \"udp\"\nhandler {\n    udp.dport = 7\n    return deliver\n}\n",
            "error at 3:5: cannot assign to the packet (it is read-only: build replies in a writable region)\n  |     udp.dport = 7\n  |     ^^^^^^^^^\n  = hint: assign to a variable, a region element, or a field of a writable bytes region",
        ),
        (
            "filter \"udp\"\nhandler {\n    let n = udp.len\n    return deliver\n    count(n)\n}\n",
            "error at 5:5: this statement can never run\n  |     count(n)\n  |     ^^^^^^^^\n  = hint: remove the statement or move it before the `return`",
        ),
        (
            "filter \"udp\"\nhandler {\n    let n = udp.len\n}\n",
            "error at 4:1: the handler can reach its end without `return`\n  | }\n  | ^\n  = hint: end every path with `return consume` or `return deliver`",
        ),
        (
            "filter \"udp\"\nhandler {\n    for i in 0..udp.len {\n    }\n    return deliver\n}\n",
            "error at 3:17: loop bounds must be constants\n  |     for i in 0..udp.len {\n  |                 ^^^^^^^\n  = hint: write `for i in 0..16`: bounds are constants; use `break` to stop early",
        ),
        (
            "filter \"udp\"\nregion out: bytes[8] writable\nhandler {\n    out[0:2] = 0x10000\n    return deliver\n}\n",
            "error at 4:16: value 65536 is out of range (at most 65535)\n  |     out[0:2] = 0x10000\n  |                ^^^^^^^\n  = hint: use a value within the range shown",
        ),
        (
            "filter \"udp\"\nhandler {\n    let x = 0xffffffffffffffff + 1\n    return deliver\n}\n",
            "error at 3:13: constant overflow\n  |     let x = 0xffffffffffffffff + 1\n  |             ^^^^^^^^^^^^^^^^^^^^^^\n  = hint: constant arithmetic is checked like run-time arithmetic",
        ),
        (
            "filter \"udp\"\nhandler {\n    let x = a < b < c\n    return deliver\n}\n",
            "error at 3:19: expected the end of the comparison (comparisons do not chain: use `&&`), found `<`\n  |     let x = a < b < c\n  |                   ^\n  = hint: statements are `let x = ...`, `if ... { }`, `for i in 0..N { }`, `return consume|deliver`, assignments and helper calls (docs/DSL.md)",
        ),
        (
            "filter \"udp\"\ncounter ip\n",
            "error at 2:9: `ip` is a reserved name\n  | counter ip\n  |         ^^\n  = hint: protocol names, keywords, helper names and built-in constants cannot be redeclared; choose another name",
        ),
        (
            "filter \"udp\"\nhandler {\n    return maybe\n}\n",
            "error at 3:12: expected a verdict: `consume` or `deliver`, found `maybe`\n  |     return maybe\n  |            ^^^^^\n  = hint: statements are `let x = ...`, `if ... { }`, `for i in 0..N { }`, `return consume|deliver`, assignments and helper calls (docs/DSL.md)",
        ),
        (
            "filter \"udp\"\nregion out: bytes[8] writable\nhandler {\n    let s = checksum(out, udp.len, 4)\n    return deliver\n}\n",
            "error at 4:27: region `out` has 8 bytes, this access needs 65536\n  |     let s = checksum(out, udp.len, 4)\n  |                           ^^^^^^^\n  = hint: declare the region larger",
        ),
        (
            "filter \"udp\"\nregion out: bytes[8] writable\nhandler {\n    out.udp.dport = 1\n    return deliver\n}\n",
            "error at 4:5: region `out` has 8 bytes, this access needs 15\n  |     out.udp.dport = 1\n  |     ^^^^^^^^^^^^^^^^^\n  = hint: declare the region larger",
        ),
        (
            "filter \"udp\"\nhandler {\n    let x = -1\n    return deliver\n}\n",
            "error at 3:13: expected a value (numbers are unsigned: there is no unary minus), found `-`\n  |     let x = -1\n  |             ^\n  = hint: statements are `let x = ...`, `if ... { }`, `for i in 0..N { }`, `return consume|deliver`, assignments and helper calls (docs/DSL.md)",
        ),
        (
            "filter \"udp\"\nhandler {\n    let x = (((((((((((((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))))))))))))\n    return deliver\n}\n",
            "error at 3:60: nested too deeply\n  |     let x = (((((((((((((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))))))))))))\n  |                                                            ^\n  = hint: simplify the nesting",
        ),
        (
            "filter \"udp\"\nregion w: u32[4] writable\nhandler {\n    let x = w.len\n    return deliver\n}\n",
            "error at 4:15: region `w` is not a bytes region (only bytes regions have protocol fields)\n  |     let x = w.len\n  |               ^^^\n  = hint: bytes regions take `name[off:size]` and protocol fields; u16/u32/u64 regions take `name[index]`",
        ),
    ];
    for (src, want) in cases {
        match dsl::compile(src) {
            Ok(_) => panic!("accepted:\n{src}"),
            Err(e) => assert_eq!(&e.render(src), want, "\n{src}"),
        }
    }
}

#[test]
fn verifier_errors_point_at_the_dsl_line() {
    // 4,096 x 64 iterations with a branch each: more paths than the
    // verifier explores. The error names the DSL text of the instruction.
    let src = "filter \"udp\"\nregion out: bytes[64] writable\nhandler {\n    for i in 0..4096 {\n        for j in 0..64 {\n            if udp.payload[j] == i { out[0:1] = 1 }\n        }\n    }\n    return deliver\n}\n";
    let e = dsl::compile(src).expect_err("too complex to verify");
    let ErrorKind::Rejected(v) = &e.kind else {
        panic!("not a verifier rejection: {e}")
    };
    assert!(dsl::is_resource_limit(&v.kind), "{}", v.kind);
    let span = v.span.expect("the program carries spans");
    assert_eq!((span.line, span.col), (6, 16));
    let r = e.render(src);
    let mut lines = r.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("error at 6:16: the verifier rejects this: ")
    );
    assert_eq!(
        lines.next(),
        Some("  |             if udp.payload[j] == i { out[0:1] = 1 }")
    );
    assert_eq!(lines.next(), Some("  |                ^^^^^^^^^^^^^^^^^^^"));
    assert!(r.contains("= verifier: insn "));
}

#[test]
fn small_valid_programs_compile() {
    // One-line forms, `;` separators and a filter-only file.
    for ok in [
        "filter \"udp\"\n",
        "filter \"udp\"\nhandler {\n    return deliver\n}\n",
        "filter \"tcp\"; handler { if tcp.flags & TCP_SYN != 0 { return consume }; return deliver }",
    ] {
        if let Err(e) = dsl::compile(ok) {
            panic!("{}", e.render(ok));
        }
    }
}

/// Fragments from which random (mostly valid) programs are built.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("udp.dport".to_string()),
        Just("udp.len".to_string()),
        Just("ip.ihl".to_string()),
        Just("pkt.len".to_string()),
        Just("x".to_string()),
        Just("tcp.payload[3:2]".to_string()),
        Just("udp.payload[x:1]".to_string()),
        Just("out[5:4]".to_string()),
        Just("out.udp.len".to_string()),
        Just("words[x]".to_string()),
        Just("offset(udp)".to_string()),
        Just("offset(out.tcp.payload)".to_string()),
        Just("now()".to_string()),
        Just("copy_csum(out, x, 14, 8)".to_string()),
        Just("checksum(out, offset(out.ip), x)".to_string()),
        (0u64..70).prop_map(|n| n.to_string()),
        (0u64..70000).prop_map(|n| n.to_string()),
        Just("0xffffffffffffffff".to_string()),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        let ops = prop::sample::select(vec!["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
        (inner.clone(), ops, inner).prop_map(|(a, o, b)| format!("({a} {o} {b})"))
    })
}

fn stmt() -> impl Strategy<Value = String> {
    let simple = prop_oneof![
        expr().prop_map(|e| format!("x = {e}")),
        expr().prop_map(|e| format!("x += {e}")),
        (expr(), expr()).prop_map(|(a, b)| format!("out[{a}:2] = {b}")),
        expr().prop_map(|e| format!("out.ip.ttl = {e}")),
        expr().prop_map(|e| format!("out.tcp.flags |= {e}")),
        (expr(), expr()).prop_map(|(a, b)| format!("words[{a}] = {b}")),
        expr().prop_map(|e| format!("count(c, {e})")),
        expr().prop_map(|e| format!("send(out, {e})")),
        Just("wake()".to_string()),
        (expr(), expr()).prop_map(|(a, b)| format!("copy(out, {a}, 0, {b})")),
        Just("return consume".to_string()),
    ];
    simple.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            (expr(), expr(), inner.clone(), inner.clone())
                .prop_map(|(a, b, t, e)| format!("if {a} < {b} {{\n{t}\n}} else {{\n{e}\n}}")),
            (1u64..4, inner).prop_map(|(n, b)| format!("for i in 0..{n} {{\nx += i\n{b}\n}}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever the code generator emits, the verifier accepts (or stops
    /// at its resource limits); it never breaks a rule.
    #[test]
    fn generated_code_passes_the_verifier(body in prop::collection::vec(stmt(), 1..6)) {
        let src = format!(
            "filter \"udp\"\nregion out: bytes[128] writable\nregion words: u32[8] writable\ncounter c\nhandler {{\nlet x = 1\n{}\nreturn deliver\n}}\n",
            body.join("\n")
        );
        let u = match dsl::compile_unverified(&src) {
            Ok(u) => u,
            // Type and range errors are the checker's to report.
            Err(_) => return Ok(()),
        };
        let (out, spec, ..) = u.handler.expect("a handler");
        if let Err(e) = verify(&out.program, &spec) {
            prop_assert!(
                matches!(e.kind, VerifyErrorKind::TooComplex { .. } | VerifyErrorKind::TooManyStates { .. }),
                "verifier rejected generated code: {e}\n{src}"
            );
        }
        let _ = Program::from_words(out.program.words.clone());
    }

    /// No text makes the front end panic; errors always render.
    #[test]
    fn arbitrary_text_never_panics(src in "[ -~\n\t]{0,200}") {
        if let Err(e) = dsl::compile(&src) {
            let _ = e.render(&src);
        }
    }

    /// Token soup close to the language exercises the parser and checker.
    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(prop::sample::select(vec![
        "filter", "\"udp\"", "handler", "{", "}", "(", ")", "[", "]", "let", "x", "=", "if",
        "else", "for", "in", "0", "..", "4", "return", "deliver", "consume", "udp", ".", "dport",
        "payload", ":", "2", "+", "-", "<", "==", "&&", "!", "region", "r", "bytes", "writable",
        "count", "c", "counter", ",", "\n", ";", "checksum", "offset", "send", "break",
    ]), 0..60)) {
        let src = toks.join(" ");
        if let Err(e) = dsl::compile(&src) {
            let _ = e.render(&src);
        }
    }
}
