//! `exo-filter`: the host tool for exo filters and handlers.
fn main() {
    eprintln!("exo-filter: no subcommands yet");
    std::process::exit(2);
}
