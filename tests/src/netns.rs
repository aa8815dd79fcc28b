//! Test hosts on real links for the chaos suite (`tests/tests/chaos/`):
//! Linux network namespaces joined by veth pairs, faults injected on those
//! links with nftables (drop = a blackhole, `reject with tcp reset` plus
//! `ss -K` = a cut with RST) and with [`Wire`] (`chaos/wire.py`), a
//! userspace link emulator for latency and random loss (this kernel has no
//! `sch_netem`; see RELIABILITY.md).
//!
//! - [`Lab::new`] checks for root and `ip`; a [`Lab`] names everything it
//!   makes after the process id and a counter (`sy<pid>x<n>-<host>`), so
//!   tests running in parallel never collide, and deletes it all on drop
//!   (namespaces, the veths with them, tmpfs mounts), whether the test
//!   passed or panicked.
//! - [`Lab::host`] adds a namespace; [`Lab::link`] joins two of them (or
//!   one with the test's own namespace, `ROOT`) with a veth pair whose ends
//!   get the two host addresses of a /30 in 198.18.0.0/15 (RFC 2544's
//!   benchmarking range: never a real host's address).
//! - [`Lab::command`] runs a program in a host (`ip netns exec`);
//!   [`Lab::listen`] binds a TCP listener inside a host from this process
//!   (a thread that has joined the namespace creates the socket; the socket
//!   stays there), so scripted pools run in-process on another "host".

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The test's own network namespace as a [`Lab::link`] end.
pub const ROOT: &str = "";

/// Set (to anything) in CI: a missing prerequisite fails a chaos test
/// instead of skipping it.
pub const CI_ENV: &str = "SWITCHYARD_CI";

/// util-linux's setpriv (for `--pdeathsig`).
const SETPRIV: &str = "/usr/bin/setpriv";

static LABS: AtomicU32 = AtomicU32::new(0);
static LINKS: AtomicU32 = AtomicU32::new(0);

/// Runs a command to completion; its stderr on failure.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

#[track_caller]
fn must(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Why the chaos suite cannot run here, if it cannot: not root, no `ip`,
/// no network namespaces, or no `nft`/`ss` (when `need_nft`).
pub fn missing(need_nft: bool) -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root (network namespaces need root)".into());
    }
    if run("ip", &["-V"]).is_err() {
        return Some("the `ip` command (iproute2) is missing".into());
    }
    if need_nft && run("nft", &["--version"]).is_err() {
        return Some("the `nft` command (nftables) is missing".into());
    }
    if need_nft && run("ss", &["-V"]).is_err() {
        return Some("the `ss` command (iproute2) is missing".into());
    }
    None
}

/// The lab for a chaos test, or `None` after printing `SKIPPED: ...` when
/// this machine cannot run it; with `SWITCHYARD_CI` set, panics instead.
pub fn lab_or_skip(test: &str) -> Option<Lab> {
    let why = missing(true).or_else(|| Lab::new().err());
    match why {
        None => Some(Lab::new().expect("checked")),
        Some(why) if std::env::var_os(CI_ENV).is_some() => {
            panic!("{test}: cannot run the chaos suite ({CI_ENV} is set): {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED: {test}: {why}");
            None
        }
    }
}

/// One veth link between two hosts, as the test sees it.
#[derive(Debug, Clone)]
pub struct Link {
    /// Host names (namespaces) of each end; `ROOT` for the test's own.
    pub a: String,
    pub b: String,
    /// The address of each end.
    pub a_ip: Ipv4Addr,
    pub b_ip: Ipv4Addr,
    /// The interface names of each end (in their namespaces).
    pub a_dev: String,
    pub b_dev: String,
}

/// Namespaces, links and mounts of one test; all removed on drop.
pub struct Lab {
    prefix: String,
    hosts: Vec<String>,
    mounts: Vec<PathBuf>,
    wires: Vec<Wire>,
}

impl Lab {
    /// A new, empty lab (fails without root or `ip netns`).
    pub fn new() -> Result<Lab, String> {
        if let Some(why) = missing(false) {
            return Err(why);
        }
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            remove_stale();
        }
        let lab = Lab {
            prefix: format!("sy{}x{n}", std::process::id()),
            hosts: Vec::new(),
            mounts: Vec::new(),
            wires: Vec::new(),
        };
        Ok(lab)
    }

    /// The namespace name of host `name`.
    pub fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Adds a host (a network namespace with its loopback up).
    pub fn host(&mut self, name: &str) -> String {
        let ns = self.ns(name);
        must("ip", &["netns", "add", &ns]);
        self.hosts.push(ns.clone());
        must("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS` args for host `name`, or none for `ROOT`.
    fn ip_in(&self, name: &str, args: &[&str]) -> String {
        if name == ROOT {
            must("ip", args)
        } else {
            let ns = self.ns(name);
            let mut all = vec!["-n", ns.as_str()];
            all.extend_from_slice(args);
            must("ip", &all)
        }
    }

    /// A free /30 in 198.18.0.0/15: its two host addresses.
    fn subnet() -> (Ipv4Addr, Ipv4Addr) {
        let used = must("ip", &["-4", "-o", "addr", "show"]);
        let seed = std::process::id() as u64 * 7919;
        for attempt in 0..10_000u64 {
            let k = LINKS.fetch_add(1, Ordering::Relaxed) as u64;
            let index = (seed + k * 104_729 + attempt) % 32_768;
            let base = u32::from(Ipv4Addr::new(198, 18, 0, 0)) + (index as u32) * 4;
            let a = Ipv4Addr::from(base + 1);
            let b = Ipv4Addr::from(base + 2);
            if !used.contains(&format!(" {a}/")) && !used.contains(&format!(" {b}/")) {
                return (a, b);
            }
        }
        panic!("no free /30 in 198.18.0.0/15");
    }

    /// Joins hosts `a` and `b` (either may be `ROOT`) with a veth pair.
    pub fn link(&mut self, a: &str, b: &str) -> Link {
        let k = LINKS.fetch_add(1, Ordering::Relaxed);
        let tag = format!("sy{:x}l{k:x}", std::process::id());
        let (a_dev, b_dev) = (format!("{tag}a"), format!("{tag}b"));
        assert!(a_dev.len() <= 15, "{a_dev}: interface name too long");
        must(
            "ip",
            &[
                "link", "add", &a_dev, "type", "veth", "peer", "name", &b_dev,
            ],
        );
        let (a_ip, b_ip) = Self::subnet();
        for (host, dev, ip) in [(a, &a_dev, a_ip), (b, &b_dev, b_ip)] {
            if host != ROOT {
                must("ip", &["link", "set", dev, "netns", &self.ns(host)]);
            }
            self.ip_in(host, &["addr", "add", &format!("{ip}/30"), "dev", dev]);
            self.ip_in(host, &["link", "set", dev, "up"]);
        }
        Link {
            a: a.into(),
            b: b.into(),
            a_ip,
            b_ip,
            a_dev,
            b_dev,
        }
    }

    /// Joins `a` and `b` through a [`Wire`]: a host of its own in between
    /// that relays every frame, with the latency and loss the returned
    /// wire is set to. `a` and `b` get the two addresses of one /30, as
    /// with [`Lab::link`].
    pub fn wired_link(&mut self, a: &str, b: &str) -> (Link, Wire) {
        let wire_host = format!("w{}", self.wires.len());
        self.host(&wire_host);
        let left = self.link(a, &wire_host);
        let right = self.link(&wire_host, b);
        // Re-address: both outer ends on one /30; the wire's ends have none.
        let (a_ip, b_ip) = Self::subnet();
        for (host, dev, old, new) in [
            (a, &left.a_dev, left.a_ip, a_ip),
            (b, &right.b_dev, right.b_ip, b_ip),
        ] {
            self.ip_in(host, &["addr", "del", &format!("{old}/30"), "dev", dev]);
            self.ip_in(host, &["addr", "add", &format!("{new}/30"), "dev", dev]);
        }
        for (dev, ip) in [(&left.b_dev, left.b_ip), (&right.a_dev, right.a_ip)] {
            self.ip_in(
                &wire_host,
                &["addr", "del", &format!("{ip}/30"), "dev", dev],
            );
            self.ip_in(&wire_host, &["link", "set", dev, "promisc", "on"]);
        }
        let wire = Wire::start(&self.ns(&wire_host), &left.b_dev, &right.a_dev);
        self.wires.push(wire.clone());
        let link = Link {
            a: a.into(),
            b: b.into(),
            a_ip,
            b_ip,
            a_dev: left.a_dev,
            b_dev: right.b_dev,
        };
        (link, wire)
    }

    /// `ip netns exec NS program`: a command that runs `program` on host
    /// `name` (stdin null; set stdout/stderr as needed). Under `setpriv
    /// --pdeathsig KILL` where it exists, so the process dies with the
    /// test's thread even when the test process is killed.
    pub fn command(&self, name: &str, program: impl AsRef<Path>) -> tokio::process::Command {
        let mut cmd = if Path::new(SETPRIV).is_file() {
            let mut c = tokio::process::Command::new(SETPRIV);
            c.args(["--pdeathsig", "KILL", "ip"]);
            c
        } else {
            tokio::process::Command::new("ip")
        };
        cmd.args(["netns", "exec", &self.ns(name)])
            .arg(program.as_ref())
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `program args` on host `name` to completion; its stdout.
    #[track_caller]
    pub fn exec(&self, name: &str, program: &str, args: &[&str]) -> String {
        let ns = self.ns(name);
        let mut all = vec!["netns", "exec", ns.as_str(), program];
        all.extend_from_slice(args);
        must("ip", &all)
    }

    /// Applies an nftables ruleset (text as `nft -f` reads it) on host `name`.
    #[track_caller]
    pub fn nft(&self, name: &str, ruleset: &str) {
        let path = std::env::temp_dir().join(format!(
            "{}-{name}-{}.nft",
            self.prefix,
            LINKS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, ruleset).expect("write the ruleset");
        let result = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns(name),
                "nft",
                "-f",
                &path.display().to_string(),
            ],
        );
        let _ = std::fs::remove_file(&path);
        if let Err(e) = result {
            panic!("{e}\nruleset:\n{ruleset}");
        }
    }

    /// Removes every rule this suite put on host `name`.
    pub fn nft_clear(&self, name: &str) {
        let _ = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns(name),
                "nft",
                "delete",
                "table",
                "inet",
                "chaos",
            ],
        );
    }

    /// Blackholes host `name`'s traffic with `peer`: every packet either way
    /// is dropped on `name`, nothing answers (no RST, no ICMP).
    pub fn blackhole(&self, name: &str, peer: Ipv4Addr) {
        self.nft(
            name,
            &format!(
                "table inet chaos {{\n  chain input {{ type filter hook input priority -10; ip saddr {peer} drop; }}\n  chain output {{ type filter hook output priority -10; ip daddr {peer} drop; }}\n}}\n"
            ),
        );
    }

    /// Cuts host `name`'s TCP with `peer` by RST: new connections either way
    /// are answered with a reset (real RST segments on the wire), and the
    /// established ones are destroyed (`ss -K`: the kernel sends the peer
    /// an RST).
    pub fn reset(&self, name: &str, peer: Ipv4Addr) {
        self.nft(
            name,
            &format!(
                "table inet chaos {{\n  chain input {{ type filter hook input priority -10; ip saddr {peer} meta l4proto tcp reject with tcp reset; }}\n}}\n"
            ),
        );
        self.exec(name, "ss", &["-K", "dst", &peer.to_string()]);
    }

    /// Binds a TCP listener at `addr` inside host `name`.
    pub fn listen(&self, name: &str, addr: SocketAddr) -> tokio::net::TcpListener {
        let ns = PathBuf::from("/run/netns").join(self.ns(name));
        let listener = std::thread::spawn(move || {
            let file =
                std::fs::File::open(&ns).unwrap_or_else(|e| panic!("open {}: {e}", ns.display()));
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            let l = std::net::TcpListener::bind(addr)
                .unwrap_or_else(|e| panic!("bind {addr} in {}: {e}", ns.display()));
            l.set_nonblocking(true).expect("non-blocking");
            l
        })
        .join()
        .expect("the binding thread");
        tokio::net::TcpListener::from_std(listener).expect("a tokio listener")
    }

    /// Mounts a tmpfs of `size` (`"256k"`) on `dir` (created); unmounted on drop.
    pub fn tmpfs(&mut self, dir: &Path, size: &str) {
        std::fs::create_dir_all(dir).expect("mount point");
        must(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
                &dir.display().to_string(),
            ],
        );
        self.mounts.push(dir.to_path_buf());
    }
}

/// Deletes the namespaces of labs whose test process is gone (killed before
/// its labs' drop ran).
fn remove_stale() {
    let Ok(list) = run("ip", &["netns", "list"]) else {
        return;
    };
    for ns in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let pid = ns
            .strip_prefix("sy")
            .and_then(|r| r.split_once('x'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = run("ip", &["netns", "del", ns]);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for w in &self.wires {
            w.stop();
        }
        for m in self.mounts.drain(..).rev() {
            let _ = run("umount", &["-l", &m.display().to_string()]);
        }
        // Deleting a namespace deletes the veths in it, and so their peers.
        for ns in self.hosts.drain(..).rev() {
            let _ = run("ip", &["netns", "del", &ns]);
        }
    }
}

/// What a [`Wire`] does to each frame, each way.
#[derive(Debug, Clone, Copy, Default)]
pub struct Impairment {
    pub delay: Duration,
    /// Drop probability, 0.0 to 1.0 (1.0 is a blackhole).
    pub loss: f64,
}

/// A link emulator between two interfaces of one namespace
/// (`chaos/wire.py`, run in that namespace): every frame read from one is
/// sent out of the other after the delay, or dropped at random, like `tc
/// netem delay D loss P` on both ends of a veth (this kernel has no netem).
#[derive(Clone)]
pub struct Wire {
    proc: Arc<Mutex<WireProcess>>,
}

struct WireProcess {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl WireProcess {
    /// Sends a command line; its one-line answer.
    fn ask(&mut self, line: &str) -> String {
        let stdin = self.child.stdin.as_mut().expect("the wire's stdin");
        std::io::Write::write_all(stdin, format!("{line}\n").as_bytes())
            .expect("write to the wire");
        std::io::Write::flush(stdin).expect("write to the wire");
        let mut answer = String::new();
        std::io::BufRead::read_line(&mut self.out, &mut answer).expect("the wire's answer");
        answer
    }
}

/// `chaos/wire.py` in the workspace.
pub fn wire_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join("chaos/wire.py")
}

impl Wire {
    fn start(ns: &str, left: &str, right: &str) -> Wire {
        let (program, first): (&str, &[&str]) = if Path::new(SETPRIV).is_file() {
            (SETPRIV, &["--pdeathsig", "KILL", "ip"])
        } else {
            ("ip", &[])
        };
        let mut child = Command::new(program)
            .args(first)
            .args(["netns", "exec", ns, "python3"])
            .arg(wire_script())
            .args([left, right])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start chaos/wire.py");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).expect("the wire's first line");
        assert_eq!(line.trim(), "ready", "chaos/wire.py did not start");
        Wire {
            proc: Arc::new(Mutex::new(WireProcess { child, out })),
        }
    }

    /// Applies `imp` to every frame from now on (both directions).
    pub fn set(&self, imp: Impairment) {
        let mut p = self.proc.lock().expect("the wire");
        let answer = p.ask(&format!("{} {}", imp.delay.as_secs_f64(), imp.loss));
        assert!(answer.starts_with("set "), "the wire answered {answer:?}");
    }

    /// (frames relayed, frames dropped) so far, both ways.
    pub fn counts(&self) -> (u64, u64) {
        let answer = self.proc.lock().expect("the wire").ask("stats");
        let words: Vec<&str> = answer.split_whitespace().collect();
        match words.as_slice() {
            ["relayed", r, "dropped", d] => (r.parse().unwrap_or(0), d.parse().unwrap_or(0)),
            _ => panic!("the wire answered {answer:?}"),
        }
    }

    fn stop(&self) {
        let mut p = self.proc.lock().expect("the wire");
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}
