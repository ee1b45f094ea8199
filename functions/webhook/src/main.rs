//! Placeholder until its handler lands in `kustiq::http`.

fn main() {}
