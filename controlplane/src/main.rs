//! The `controlplane` binary (placeholder while the library lands).
fn main() {}
