//! The committed captures are exactly what the generator in
//! `pcap_support/frames.rs` writes. Set `REGENERATE_CAPTURES=1` to rewrite
//! them after changing the generator.

mod pcap_support;

use pcap_support::{CAPTURES, captures_dir, generate, read, to_pcap};

#[test]
fn committed_captures_match_the_generator() {
    let regen = std::env::var_os("REGENERATE_CAPTURES").is_some();
    for name in CAPTURES {
        let want = to_pcap(&generate(name));
        let path = captures_dir().join(name);
        if regen {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run with REGENERATE_CAPTURES=1", path.display()));
        assert!(
            have == want,
            "{name} is stale; run with REGENERATE_CAPTURES=1"
        );
        // And the reader gives back what was written.
        let back = read(&path);
        let generated = generate(name);
        assert_eq!(back.len(), generated.len());
        for (a, b) in back.iter().zip(&generated) {
            assert_eq!((&a.data, a.wirelen), (&b.data, b.wirelen));
        }
    }
}
