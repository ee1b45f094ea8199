//! Use cases: domain + ports, nothing else.
