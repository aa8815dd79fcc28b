//! The `ctl` binary: everything is in the library; see `lib.rs`.

fn main() {
    std::process::exit(switchyard_ctl::run());
}
