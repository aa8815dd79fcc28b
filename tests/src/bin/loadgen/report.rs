//! What the share engine counts ([`Tally`]) and prints: the figures and the
//! `RESULT` line of `loadgen shares` (keys `mode=shares ...`, among them
//! `sent_all`, every submit including the warm-up's, and `errors`,
//! connections lost), and of `rx-shares` / `aleo-shares`, whose strict
//! report adds `prefill_bad` and `verdict` (and `!!!` lines when anything unexpected
//! happened), plus the CPU the rest of the machine used meanwhile.

use std::collections::HashMap;
use std::fmt::Write as _;

use tokio::time::{Instant, sleep_until};

use crate::engine::{Answer, Dialect, Settings};
use crate::plan::Plan;
use crate::stats::summarize;

#[derive(Default)]
pub struct Tally {
    pub sent: u64,
    pub sent_measured: u64,
    pub answered: u64,
    pub answered_in_window: u64,
    pub accepted_in_window: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub unanswered: u64,
    /// Connections that failed (write, read, closed by the server).
    pub errors: u64,
    pub reasons: HashMap<String, u64>,
    pub latencies_us: Vec<u64>,
    pub max_difficulty: f64,
    pub error: Option<String>,
}

impl Tally {
    pub fn add(&mut self, t: Tally) {
        self.sent += t.sent;
        self.sent_measured += t.sent_measured;
        self.answered += t.answered;
        self.answered_in_window += t.answered_in_window;
        self.accepted_in_window += t.accepted_in_window;
        self.accepted += t.accepted;
        self.rejected += t.rejected;
        self.unanswered += t.unanswered;
        self.errors += t.errors;
        self.max_difficulty = self.max_difficulty.max(t.max_difficulty);
        self.latencies_us.extend(t.latencies_us);
        for (k, v) in t.reasons {
            *self.reasons.entry(k).or_default() += v;
        }
        if self.error.is_none() {
            self.error = t.error;
        }
    }

    /// Counts an answer to a pending submit (timed from its write).
    pub fn on_answer(
        &mut self,
        (id, verdict): Answer,
        pending: &mut HashMap<u64, Instant>,
        plan: &Plan,
    ) {
        let Some(sent) = pending.remove(&id) else {
            return;
        };
        let now = Instant::now();
        self.answered += 1;
        let in_window = now >= plan.measure_from && now < plan.end;
        if in_window {
            self.answered_in_window += 1;
        }
        if sent >= plan.measure_from {
            self.latencies_us
                .push(now.duration_since(sent).as_micros() as u64);
        }
        match verdict {
            Ok(()) => {
                self.accepted += 1;
                if in_window {
                    self.accepted_in_window += 1;
                }
            }
            Err(why) => {
                self.rejected += 1;
                *self.reasons.entry(why).or_default() += 1;
            }
        }
    }

    /// The prefill's answers (strict: with errors and rejection reasons).
    pub fn print_prefill(&self, strict: bool) {
        if !strict {
            println!(
                "prefill answers: {} (rejected {}, unanswered {})",
                self.answered, self.rejected, self.unanswered
            );
            return;
        }
        println!(
            "prefill answers: {} (rejected {}, unanswered {}, errors {})",
            self.answered, self.rejected, self.unanswered, self.errors
        );
        for (why, count) in top_reasons(&self.reasons) {
            println!("prefill rejected: {count} x {why}");
        }
    }
}

/// The five most frequent rejection reasons, most frequent first.
fn top_reasons(reasons: &HashMap<String, u64>) -> Vec<(&String, &u64)> {
    let mut reasons: Vec<_> = reasons.iter().collect();
    reasons.sort_by(|x, y| y.1.cmp(x.1));
    reasons.truncate(5);
    reasons
}

pub fn report<D: Dialect>(
    a: &Settings,
    dialect: &D,
    n: usize,
    t: &mut Tally,
    pre: &Tally,
    cpu: &[(String, f64)],
) {
    let strict = dialect.strict();
    let secs = a.duration.as_secs_f64().max(1e-9);
    let offered = if a.rate > 0.0 {
        format!("{}", a.rate)
    } else {
        format!("max(window {})", a.window)
    };
    let lat = summarize(&mut t.latencies_us);
    println!(
        "{}: target={} miners={n} offered={offered}/s warmup={:.1}s measured={:.1}s",
        dialect.mode(),
        a.target,
        a.warmup.as_secs_f64(),
        secs
    );
    println!(
        "sent: {} in the measured period ({:.1}/s), {} in all",
        t.sent_measured,
        t.sent_measured as f64 / secs,
        t.sent
    );
    let errors = match strict {
        true => format!(", connection errors {}", t.errors),
        false => String::new(),
    };
    println!(
        "answered: {} (accepted {}, rejected {}), unanswered {}{errors}",
        t.answered, t.accepted, t.rejected, t.unanswered
    );
    println!(
        "throughput: {:.1} answers/s, {:.1} accepted/s (answers received in the measured period)",
        t.answered_in_window as f64 / secs,
        t.accepted_in_window as f64 / secs
    );
    println!(
        "latency write->answer (us, {} samples): p50 {} p90 {} p99 {} max {} mean {:.0}",
        lat.count, lat.p50, lat.p90, lat.p99, lat.max, lat.mean
    );
    for (why, count) in top_reasons(&t.reasons) {
        println!("rejected: {count} x {why}");
    }
    if let Some(warning) = dialect.difficulty_warning(t.max_difficulty) {
        println!("{warning}");
    }
    if let Some(e) = &t.error {
        println!("error: {e}");
    }
    let bad = t.rejected + t.unanswered + t.errors + pre.rejected + pre.unanswered + pre.errors;
    let verdict = if bad == 0 { "ok" } else { "UNEXPECTED" };
    if strict && bad > 0 {
        println!(
            "!!! UNEXPECTED: {} rejected, {} unanswered, {} connection errors in the run; {} rejected, {} unanswered, {} errors in the prefill (every share sent is valid)",
            t.rejected, t.unanswered, t.errors, pre.rejected, pre.unanswered, pre.errors
        );
    }
    let cores: Vec<String> = cpu.iter().map(|(n, c)| format!("{n} {c:.2}")).collect();
    let total: f64 = cpu
        .iter()
        .filter(|(n, _)| n != "others")
        .map(|(_, c)| c)
        .sum();
    println!(
        "cpu over the measured period (cores): {}; total {total:.2}",
        cores.join(", ")
    );
    let mut r = String::new();
    let _ = write!(
        r,
        "RESULT mode={} miners={n} offered={} sent={} sent_rate={:.1} answered={} accepted={} rejected={} unanswered={}",
        dialect.mode(),
        if a.rate > 0.0 { a.rate } else { 0.0 },
        t.sent_measured,
        t.sent_measured as f64 / secs,
        t.answered,
        t.accepted,
        t.rejected,
        t.unanswered,
    );
    // Every submit of the run (warm-up included), and connections lost: what
    // a ledger check compares with (`answered` counts the warm-up's too).
    let _ = write!(r, " sent_all={} errors={}", t.sent, t.errors);
    if strict {
        let _ = write!(
            r,
            " prefill_bad={} verdict={verdict}",
            pre.rejected + pre.unanswered + pre.errors,
        );
    }
    let _ = write!(
        r,
        " rate={:.1} accepted_rate={:.1} p50_us={} p90_us={} p99_us={} max_us={} mean_us={:.0}",
        t.answered_in_window as f64 / secs,
        t.accepted_in_window as f64 / secs,
        lat.p50,
        lat.p90,
        lat.p99,
        lat.max,
        lat.mean
    );
    for (name, c) in cpu {
        let _ = write!(r, " cpu_{name}={c:.2}");
    }
    let _ = write!(r, " cpu_total={total:.2}");
    println!("{r}");
}

/// Busy ticks of the whole machine (every field of /proc/stat's `cpu` line
/// but idle and iowait).
fn machine_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let all: u64 = f.iter().take(8).sum();
    Some(all - f.get(3)? - f.get(4)?)
}

/// Cores the whole machine kept busy between `from` and `to`.
pub async fn machine_busy(from: Instant, to: Instant) -> Option<f64> {
    sleep_until(from).await;
    let before = machine_ticks()?;
    sleep_until(to).await;
    let hz = crate::stats::ticks_per_second();
    let secs = to.duration_since(from).as_secs_f64().max(1e-9);
    Some(machine_ticks()?.checked_sub(before)? as f64 / hz / secs)
}
