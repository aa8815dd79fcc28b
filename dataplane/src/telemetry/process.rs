//! `process_*` metrics (the Prometheus client convention) and
//! `switchyard_build_info`, read from `/proc/self` at scrape time on Linux
//! (elsewhere only the build info): resident memory, CPU seconds, open file
//! descriptors and the start time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The process and build collector; `components` names what runs in this
/// process (`controlplane`, `dataplane`).
#[derive(Debug)]
pub struct ProcessCollector {
    pub components: Vec<&'static str>,
}

/// /proc's clock tick (USER_HZ, 100 on every Linux platform we build for).
const TICKS: f64 = 100.0;

struct Sample {
    rss_bytes: f64,
    cpu_seconds: f64,
    open_fds: f64,
    start_time: f64,
}

fn sample() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // stat(5): utime is field 14, stime 15, starttime 22 (1-based, with pid
    // and comm first: index = n - 3 here).
    let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let cpu_seconds = (num(14)? + num(15)?) / TICKS;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse::<f64>()
        .ok()?;
    let start_time = boot + num(22)? / TICKS;
    let rss_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb * 1024.0);
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as f64;
    Some(Sample {
        rss_bytes,
        cpu_seconds,
        open_fds,
        start_time,
    })
}

impl Collector for ProcessCollector {
    fn encode(&self, mut d: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let version = env!("CARGO_PKG_VERSION");
        let mut m = d.encode_descriptor(
            "switchyard_build_info",
            "Build of this process (always 1), one series per component it runs.",
            None,
            MetricType::Gauge,
        )?;
        for c in &self.components {
            ConstGauge::new(1i64)
                .encode(m.encode_family(&[("version", version), ("component", c)])?)?;
        }
        let Some(s) = sample() else { return Ok(()) };
        for (name, help, v) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                s.rss_bytes,
            ),
            ("process_open_fds", "Open file descriptors.", s.open_fds),
            (
                "process_start_time_seconds",
                "Start time of the process since the unix epoch in seconds.",
                s.start_time,
            ),
        ] {
            ConstGauge::new(v).encode(d.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        ConstCounter::new(s.cpu_seconds).encode(d.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            MetricType::Counter,
        )?)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn proc_is_read() {
        let s = super::sample().expect("a sample on Linux");
        assert!(s.rss_bytes > 1e6, "{}", s.rss_bytes);
        assert!(s.open_fds >= 3.0);
        assert!(s.start_time > 1.7e9);
        assert!(s.cpu_seconds >= 0.0);
    }
}
