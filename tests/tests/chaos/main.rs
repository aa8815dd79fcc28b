//! The chaos suite (issue 16 item 2): the real `dataplane` and
//! `controlplane` binaries and scripted pools on separate hosts (Linux
//! network namespaces joined by veth pairs), with faults injected on the
//! links: RST cuts and blackholes (nftables, `ss -K`), latency and loss
//! (`chaos/wire.py`, a userspace netem), a control plane or data plane
//! killed with SIGKILL, a full disk under the spool, hostile pools.
//!
//! Needs root, `ip`, `nft` and `ss` (and `python3` for the latency test):
//! without them each test prints `SKIPPED: ...` and passes, unless
//! `SWITCHYARD_CI` is set, where it fails. `chaos/run.sh` runs this target;
//! `SWITCHYARD_CHAOS_FULL=1` (`chaos/run.sh --full`) makes the control-plane
//! link cut the full 10 minutes instead of 60 s.
#![cfg(target_os = "linux")]

mod common;
/// The test's own namespace as a link end.
pub use switchyard_tests::netns::ROOT as ROOT_HOST;
mod disk_full;
mod hostile;
mod latency;
mod ledger;
mod pool_link;
mod switch_cut;
