//! `loadgen switch`: a scheduled switch seen by N miners connected to a data
//! plane (from many loopback addresses: data planes cap connections per IP).
//! They submit at a modest total rate through the instant; each stamps its
//! first new-pool job (told apart by prevhash: `loadgen pool` reports it on
//! `current`) with `switchyard_dataplane::clock::now()`, which honours
//! `SWITCHYARD_CLOCK_OFFSET_MS` like the control plane. Shares are counted
//! in four groups (see `GROUPS`); late old-pool shares need the grace period.
//! A plain fan-out through the same data plane and miners follows, to compare.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use switchyard_dataplane::clock;
use switchyard_stratum::Message;
use switchyard_stratum::v1::SubscribeResult;
use switchyard_tests::lines::{LineReader, show};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until};

use crate::client::{self, Conn, Event, Job};
use crate::stats::summarize;
use crate::{Target, parse_secs, serve};

#[derive(clap::Args)]
pub struct Args {
    /// The data plane's miner address.
    #[arg(long)]
    target: Target,
    #[arg(long, default_value_t = 10_000)]
    miners: usize,
    /// The switch instant (shifted clock): unix ms, or RFC 3339 like 2026-11-23T12:00:00Z.
    #[arg(long, value_parser = parse_instant)]
    at: DateTime<Utc>,
    /// Control port of the `loadgen pool` switched from.
    #[arg(long)]
    old_control: SocketAddr,
    /// Control port of the `loadgen pool` switched to.
    #[arg(long)]
    new_control: SocketAddr,
    /// Total shares/s offered by all miners together.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Start submitting this long before the instant (seconds; at once if less is left).
    #[arg(long, default_value = "15", value_parser = parse_secs)]
    before: Duration,
    /// Keep submitting this long after the instant (seconds).
    #[arg(long, default_value = "15", value_parser = parse_secs)]
    after: Duration,
    /// Submits per miner on the old pool's job after the new job came (grace).
    #[arg(long, default_value_t = 1)]
    late_old_shares: u32,
    /// The plan's grace period (s): late old-pool shares stop 5 s before its end.
    #[arg(long, default_value = "30", value_parser = parse_secs)]
    grace: Duration,
    /// Then, this long after the instant (s), time a plain fan-out for
    /// comparison: `job dirty` to the new pool, same data plane and miners.
    #[arg(long, default_value = "10", value_parser = parse_secs)]
    fanout_after: Duration,
    /// Miners per loopback source address (127.1.x.y); 0: all from the default.
    #[arg(long, default_value_t = 100)]
    per_source_ip: usize,
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("{s}: out of range"));
    }
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?}: not unix ms nor RFC 3339: {e}"))
}

/// The share groups, in report order: RESULT key prefix and description.
const GROUPS: [(&str, &str); 4] = [
    ("before", "before the instant (old pool)"),
    ("oldafter", "after, old job, new job not yet here"),
    ("late", "after, old job, new job already here (late)"),
    ("new", "after, new pool's job"),
];

#[derive(Default, Clone, Copy)]
struct Counts {
    sent: u64,
    accepted: u64,
    refused: u64,
    unanswered: u64,
}

impl Counts {
    fn add(&mut self, c: Counts) {
        self.sent += c.sent;
        self.accepted += c.accepted;
        self.refused += c.refused;
        self.unanswered += c.unanswered;
    }
}

/// What one miner saw, or all of them together.
#[derive(Default)]
struct Outcome {
    /// First new-pool job per miner, microseconds after the instant (negative: early).
    first_new_us: Vec<i64>,
    groups: [Counts; 4],
    reasons: HashMap<String, u64>,
    /// When each miner first had a job from neither pool's first job (the
    /// comparison fan-out).
    fanout_at: Vec<Instant>,
    errors: Vec<String>,
}

impl Outcome {
    fn add(&mut self, o: Outcome) {
        self.first_new_us.extend(o.first_new_us);
        for (g, c) in self.groups.iter_mut().zip(o.groups) {
            g.add(c);
        }
        for (k, v) in o.reasons {
            *self.reasons.entry(k).or_default() += v;
        }
        self.fanout_at.extend(o.fanout_at);
        self.errors.extend(o.errors);
    }
}

/// When things happen, as tokio instants (the instant on the shifted clock).
#[derive(Clone, Copy)]
struct Plan {
    start: Instant,
    instant: Instant,
    at: DateTime<Utc>,
    end: Instant,
    drain_until: Instant,
    late_until: Instant,
    interval: Duration,
    late_old_shares: u32,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    if a.miners == 0 || !(a.rate.is_finite() && a.rate > 0.0) {
        bail!("need --miners >= 1 and --rate > 0");
    }
    let prevs = Arc::new([
        prevhash_of(a.old_control).await?,
        prevhash_of(a.new_control).await?,
    ]);
    if prevs[0] == prevs[1] {
        bail!("both pools report the same prevhash; cannot tell their jobs apart");
    }
    let started = Instant::now();
    let (conns, failures, first_error) = connect_all(&a).await;
    let secs = started.elapsed().as_secs_f64();
    let e = first_error.map_or(String::new(), |e| format!("; first: {e}"));
    let (n, target) = (conns.len(), a.target);
    println!("switch: {n} miners connected to {target} in {secs:.2} s ({failures} failed{e})");
    if n < a.miners {
        bail!("only {n} of {} miners connected", a.miners);
    }
    let left = (a.at - clock::now())
        .to_std()
        .map_err(|_| anyhow!("the instant {} has passed already", a.at))?;
    let (at, secs) = (a.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), left.as_secs_f64());
    println!("READY {n} miners; the instant {at} is {secs:.1} s away");
    std::io::stdout().flush()?;
    let now = Instant::now();
    let instant = now + left;
    let interval = Duration::from_secs_f64(n as f64 / a.rate);
    let plan = Plan {
        start: instant.checked_sub(a.before).unwrap_or(now).max(now),
        instant,
        at: a.at,
        end: instant + a.after,
        drain_until: instant + a.after + Duration::from_secs(5),
        late_until: instant + a.grace.saturating_sub(Duration::from_secs(5)),
        interval,
        late_old_shares: a.late_old_shares,
    };
    let mut tasks = Vec::with_capacity(n);
    for (i, conn) in conns.into_iter().enumerate() {
        let offset = Duration::from_secs_f64((i as f64 / a.rate) % interval.as_secs_f64());
        tasks.push(tokio::spawn(miner(conn, plan, offset, prevs.clone())));
    }
    let fanout = (a.fanout_after < a.after).then(|| {
        tokio::spawn(async move {
            sleep_until(instant + a.fanout_after).await;
            let t0 = Instant::now();
            (t0, serve::ask(a.new_control, "job dirty").await)
        })
    });
    let mut total = Outcome::default();
    for t in tasks {
        total.add(t.await?);
    }
    let mut fanout_us = None;
    if let Some(f) = fanout {
        let (t0, answer) = f.await?;
        answer?;
        let since = |t: &Instant| t.saturating_duration_since(t0).as_micros() as u64;
        fanout_us = Some(total.fanout_at.iter().map(since).collect());
    }
    report(n, &total, fanout_us);
    Ok(())
}

/// The prevhash (hex, as notify lines carry it) of a `loadgen pool`'s
/// current job (`current` on its control port).
async fn prevhash_of(control: SocketAddr) -> anyhow::Result<Vec<u8>> {
    let answer = serve::ask(control, "current").await?;
    answer
        .strip_prefix("current ")
        .and_then(|r| r.split_whitespace().nth(1))
        .filter(|h| h.len() == 64)
        .map(|h| h.as_bytes().to_vec())
        .ok_or_else(|| anyhow!("{control}: unexpected answer {answer:?} to `current`"))
}

fn report(n: usize, t: &Outcome, fanout_us: Option<Vec<u64>>) {
    let early = t.first_new_us.iter().filter(|&&us| us < 0).count();
    let mut latencies: Vec<u64> = t.first_new_us.iter().map(|&us| us.max(0) as u64).collect();
    let s = summarize(&mut latencies);
    let ms = |us: u64| us as f64 / 1000.0;
    let first = ms(latencies.first().copied().unwrap_or(0));
    let all = if s.count == n { ms(s.max) } else { f64::NAN };
    println!(
        "new pool's job: {} of {n} miners ({early} before the instant); from the instant: first {first:.2} ms, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, all {all:.2} ms",
        s.count,
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
    );
    println!(
        "shares{:40} {:>8} {:>8} {:>8} {:>10}",
        "", "sent", "accepted", "refused", "unanswered"
    );
    let mut r = format!(
        "RESULT mode=switch miners={n} got_new={} early={early} first_ms={first:.2} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} all_ms={all:.2}",
        s.count,
        ms(s.p50),
        ms(s.p99),
        ms(s.max)
    );
    let (mut old, new) = (Counts::default(), t.groups[3]);
    for ((key, name), c) in GROUPS.iter().zip(t.groups) {
        let (s, a, f, u) = (c.sent, c.accepted, c.refused, c.unanswered);
        println!("{name:<46} {s:>8} {a:>8} {f:>8} {u:>10}");
        let _ = write!(
            r,
            " {key}_sent={s} {key}_accepted={a} {key}_refused={f} {key}_unanswered={u}"
        );
        if *key != "new" {
            old.add(c);
        }
    }
    let mut rs: Vec<_> = t.reasons.iter().collect();
    rs.sort_by(|x, y| y.1.cmp(x.1));
    for (why, count) in rs.iter().take(5) {
        println!("refused: {count} x {why}");
    }
    if let Some(mut f) = fanout_us {
        let f = summarize(&mut f);
        let all = if f.count == n { ms(f.max) } else { f64::NAN };
        println!(
            "comparison fan-out (a new job from the new pool, same data plane and miners): {} of {n} miners, p50 {:.2} ms, all {all:.2} ms",
            f.count,
            ms(f.p50)
        );
        let (got, p50) = (f.count, ms(f.p50));
        let _ = write!(
            r,
            " fanout_got={got} fanout_p50_ms={p50:.2} fanout_all_ms={all:.2}"
        );
    }
    for e in t.errors.iter().take(5) {
        println!("error: {e}");
    }
    let _ = write!(
        r,
        " old_pool_accepted={} new_pool_accepted={} refused={} unanswered={} errors={}",
        old.accepted,
        new.accepted,
        old.refused + new.refused,
        old.unanswered + new.unanswered,
        t.errors.len()
    );
    println!("{r}");
}

/// One miner through the switch: submits every `interval` (first at
/// `start + offset`), stamps its first new-pool job, tallies the answers.
async fn miner(mut c: Conn, plan: Plan, offset: Duration, prevs: Arc<[Vec<u8>; 2]>) -> Outcome {
    let mut o = Outcome::default();
    let mut old_job = c.job.clone();
    let mut new_job: Option<Job> = None;
    // The new pool's notify, parsed only when a submit needs it: parsing on
    // arrival would put loadgen's CPU into the other miners' arrival times.
    let (mut new_line, mut got_new) = (None::<Vec<u8>>, false);
    let mut late_left = plan.late_old_shares;
    let mut pending: HashMap<u64, usize> = HashMap::new();
    let (mut next_id, mut nonce) = (10u64, 0u32);
    let e2 = "00".repeat(c.extranonce2_size);
    let mut next_send = plan.start + offset;
    loop {
        let now = Instant::now();
        let sending = now < plan.end;
        if !sending && (pending.is_empty() || now >= plan.drain_until) {
            break;
        }
        if sending && now >= next_send {
            next_send += plan.interval;
            if let Some(l) = new_line.take()
                && let Event::Job(j) = client::classify(&l)
            {
                new_job = Some(j);
            }
            let (job, group) = match &new_job {
                None if now < plan.instant => (&old_job, 0),
                None => (&old_job, 1),
                Some(_) if late_left > 0 && now < plan.late_until => {
                    late_left -= 1;
                    (&old_job, 2)
                }
                Some(j) => (j, 3),
            };
            let line = format!(
                "{{\"id\":{next_id},\"method\":\"mining.submit\",\"params\":[\"{}\",\"{}\",\"{e2}\",\"{:08x}\",\"{nonce:08x}\"]}}\n",
                c.worker, job.id, job.ntime
            );
            if let Err(e) = c.writer.write_all(line.as_bytes()).await {
                o.errors.push(format!("{}: write: {e}", c.worker));
                break;
            }
            pending.insert(next_id, group);
            o.groups[group].sent += 1;
            next_id += 1;
            nonce = nonce.wrapping_add(1);
        }
        let wake = if sending {
            next_send.min(plan.end)
        } else {
            plan.drain_until
        };
        tokio::select! {
            line = c.reader.next_line() => {
                let Ok(Some(line)) = line else {
                    o.errors.push(format!("{}: closed by the server ({:?})", c.worker, line.err()));
                    break;
                };
                let (at, at_instant) = (clock::now(), Instant::now());
                if contains(&line, b"\"mining.notify\"") {
                    if contains(&line, &prevs[1]) {
                        if !got_new {
                            got_new = true;
                            o.first_new_us.extend((at - plan.at).num_microseconds());
                        }
                        new_line = Some(line);
                    } else if contains(&line, &prevs[0]) && let Event::Job(j) = client::classify(&line) {
                        old_job = j;
                    } else {
                        // The comparison fan-out's job: mined from now on.
                        if o.fanout_at.is_empty() {
                            o.fanout_at.push(at_instant);
                        }
                        new_line = Some(line);
                    }
                    continue;
                }
                // Only answers are parsed (set_difficulty and the like are not needed).
                if !contains(&line, b"\"method\"")
                    && let Event::Answer(id, verdict) = client::classify(&line)
                    && let Some(g) = pending.remove(&id)
                {
                    match verdict {
                        Ok(()) => o.groups[g].accepted += 1,
                        Err(why) => {
                            o.groups[g].refused += 1;
                            *o.reasons.entry(why).or_default() += 1;
                        }
                    }
                }
            }
            _ = sleep_until(wake) => {}
        }
    }
    for g in pending.into_values() {
        o.groups[g].unanswered += 1;
    }
    o
}

fn contains(line: &[u8], needle: &[u8]) -> bool {
    line.windows(needle.len()).any(|w| w == needle)
}

/// The loopback source address of miner `i` (127.1.x.y, y in 1..=254).
fn source(i: usize, per_ip: usize) -> Option<IpAddr> {
    let k = i / per_ip.max(1);
    let ip = Ipv4Addr::new(127, 1, (k / 254) as u8, (k % 254 + 1) as u8);
    (per_ip > 0).then_some(IpAddr::V4(ip))
}

type Connected = (Vec<Conn>, usize, Option<String>);

/// Connects every miner, `concurrency` handshakes at a time.
async fn connect_all(a: &Args) -> Connected {
    let sem = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(a.miners);
    for i in 0..a.miners {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let (target, src) = (a.target, source(i, a.per_source_ip));
        tasks.push(tokio::spawn(async move {
            let worker = format!("switch.w{i}");
            let r = tokio::time::timeout(Duration::from_secs(30), handshake(src, target, &worker))
                .await;
            drop(permit);
            r.map_err(|_| anyhow!("{worker}: handshake timed out"))?
        }));
        if (i + 1) % 2000 == 0 {
            eprintln!("  ... {} connections started", i + 1);
        }
    }
    let (mut conns, mut failures, mut first) = (Vec::with_capacity(a.miners), 0, None);
    for t in tasks {
        match t.await.map_err(anyhow::Error::from).and_then(|r| r) {
            Ok(c) => conns.push(c),
            Err(e) => {
                failures += 1;
                first.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    (conns, failures, first)
}

/// `client::connect`'s handshake, from a chosen source address.
async fn handshake(src: Option<IpAddr>, addr: SocketAddr, worker: &str) -> anyhow::Result<Conn> {
    let sock = TcpSocket::new_v4()?;
    if let Some(ip) = src {
        sock.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = sock
        .connect(addr)
        .await
        .with_context(|| format!("{worker}: connecting to {addr} from {src:?}"))?;
    stream.set_nodelay(true)?;
    let (r, mut writer) = stream.into_split();
    let mut reader = LineReader::new(r);
    writer
        .write_all(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"loadgen/0.1\"]}\n")
        .await?;
    let (mut e2_size, mut authorized, mut job) = (None, false, None);
    while !(authorized && job.is_some()) {
        let line = reader
            .next_line()
            .await?
            .ok_or_else(|| anyhow!("{worker}: closed during the handshake"))?;
        match Message::parse(&line) {
            Ok(Message::Response(r)) if matches!(r.id.as_u64(), Some(1 | 2)) => {
                if !r.is_ok() {
                    bail!("{worker}: subscribe/authorize refused: {}", show(&line));
                }
                if r.id.as_u64() == Some(2) {
                    authorized = true;
                    continue;
                }
                let s = SubscribeResult::from_result(&r.result)
                    .map_err(|e| anyhow!("{worker}: subscribe answer: {e}"))?;
                e2_size = Some(s.extranonce2_size);
                let auth = format!(
                    "{{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"{worker}\",\"x\"]}}\n"
                );
                writer.write_all(auth.as_bytes()).await?;
            }
            _ => {
                if let Event::Job(j) = client::classify(&line) {
                    job = Some(j);
                }
            }
        }
    }
    Ok(Conn {
        reader,
        writer,
        worker: worker.to_owned(),
        extranonce2_size: e2_size.context("no subscribe answer")?,
        difficulty: None, // not followed: every nonce passes (BENCHMARKS.md)
        job: job.context("no job")?,
    })
}
