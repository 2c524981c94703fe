//! The handler language never panics, and everything its code generator
//! emits passes the verifier (or stops at the verifier's resource limits).
//!
//! Odd first byte: the rest is raw source text. Even first byte: each
//! further byte picks a token from the language's vocabulary, appended to
//! a prologue that declares a filter, regions and a counter and opens the
//! handler, so most inputs get past the lexer into the checker and the
//! code generator.
#![no_main]

use filter_lang::bpf::verifier::verify;
use filter_lang::dsl;
use libfuzzer_sys::fuzz_target;

const PROLOGUE: &str = "filter \"udp\"\nregion out: bytes[128] writable\nregion w: u32[8] writable\nregion t: u16[4]\ncounter c\nhandler {\nlet x = 1\n";

const TOKENS: &[&str] = &[
    "\n",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    "..",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "<<",
    ">>",
    "&&",
    "||",
    "!",
    "+=",
    "-=",
    "|=",
    "let",
    "if",
    "else",
    "for",
    "in",
    "break",
    "continue",
    "return",
    "consume",
    "deliver",
    "x",
    "y",
    "i",
    "0",
    "1",
    "2",
    "4",
    "8",
    "14",
    "64",
    "255",
    "65535",
    "0xffffffffffffffff",
    "10.0.0.1",
    "02:00:00:00:00:01",
    "udp",
    "tcp",
    "ip",
    "eth",
    "icmp",
    "arp",
    "pkt",
    "payload",
    "dport",
    "sport",
    "len",
    "ihl",
    "flags",
    "frag",
    "ttl",
    "src",
    "dst",
    "checksum",
    "doff",
    "seq",
    "type",
    "out",
    "w",
    "t",
    "c",
    "now",
    "count",
    "copy",
    "copy_csum",
    "send",
    "wake",
    "offset",
    "TCP_SYN",
    "IPPROTO_UDP",
    "true",
    "false",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let src = if mode & 1 == 1 {
        match std::str::from_utf8(rest) {
            Ok(s) => s.to_string(),
            Err(_) => return,
        }
    } else {
        let mut s = String::from(PROLOGUE);
        for &b in rest {
            s.push_str(TOKENS[b as usize % TOKENS.len()]);
            s.push(' ');
        }
        s.push_str("\nreturn deliver\n}\n");
        s
    };
    match dsl::compile_unverified(&src) {
        Err(e) => {
            let _ = e.render(&src);
        }
        Ok(u) => {
            if let Some((out, spec, ..)) = u.handler {
                assert_eq!(out.program.spans.len(), out.program.words.len());
                if let Err(e) = verify(&out.program, &spec) {
                    assert!(
                        dsl::is_resource_limit(&e.kind),
                        "the verifier rejected generated code: {e}\n{src}"
                    );
                }
            }
        }
    }
});
