//! `cargo xtask`: builds exo and drives QEMU (placeholder until the foundation lands).
fn main() {
    eprintln!("xtask: not implemented yet");
    std::process::exit(2);
}
