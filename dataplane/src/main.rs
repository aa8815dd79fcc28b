//! dataplane binary.
fn main() {}
