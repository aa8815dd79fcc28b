//! The control plane binary. Its store, planner and gRPC services arrive with
//! the control-plane issue; until then it only says so.

fn main() {
    eprintln!(
        "controlplane: not built yet; run a data plane standalone with `dataplane start --foreground --config FILE`"
    );
    std::process::exit(2);
}
