//! `kustiq-local`: see CONTRACT.md.

fn main() {}
