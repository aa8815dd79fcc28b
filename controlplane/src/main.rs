//! The `controlplane` binary.
fn main() {}
