//! The operator CLI. Its commands arrive with the control-plane issue.

fn main() {
    eprintln!("ctl: not built yet; see README.md");
    std::process::exit(2);
}
