//! Process logging for both binaries (the data plane, and the control plane
//! that embeds one): the level, one text or JSON line per event, on stderr
//! or in a file that rotates by size (`"50 MB"`) or by time (`"daily"`,
//! `"hourly"`) and keeps `retention` rotated files besides the live one,
//! deleting older ones. Rotation and retention are the seed's `logging:`
//! settings.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use anyhow::Context;
use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendCount, AppendTimestamp, FileLimit};
use file_rotate::{ContentLimit, FileRotate, TimeFrequency};

/// When a log file is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// When it reaches this many bytes.
    Size(usize),
    Hourly,
    Daily,
}

impl FromStr for Rotation {
    type Err = String;

    /// `"50 MB"`, `"500KB"`, `"1 GiB"`, `"1000 B"`, `"daily"`, `"hourly"`.
    /// KB/MB/GB are powers of 1000 (as the seed's loguru reads them),
    /// KiB/MiB/GiB powers of 1024.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "daily" | "1 day" | "day" => return Ok(Rotation::Daily),
            "hourly" | "1 hour" | "hour" => return Ok(Rotation::Hourly),
            _ => {}
        }
        let bad = || {
            format!(
                "{s:?} is not a rotation: give a size such as \"50 MB\" or \"500 KB\", or \"daily\" or \"hourly\""
            )
        };
        let split = t
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (num, unit) = t.split_at(split);
        let n: f64 = num.trim().parse().map_err(|_| bad())?;
        let mult: f64 = match unit.trim() {
            "b" => 1.0,
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "kib" => 1024.0,
            "mib" => 1024.0 * 1024.0,
            "gib" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let bytes = n * mult;
        if !(1.0..=1e12).contains(&bytes) {
            return Err(format!("{s:?}: a rotation size from 1 B to 1000 GB"));
        }
        Ok(Rotation::Size(bytes as usize))
    }
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rotation::Size(n) => write!(f, "{n} bytes"),
            Rotation::Hourly => f.write_str("hourly"),
            Rotation::Daily => f.write_str("daily"),
        }
    }
}

/// How a process logs.
#[derive(Debug, Clone)]
pub struct LogSpec<'a> {
    /// A tracing filter: `info`, `warn`, `switchyard_dataplane=debug,info` ...
    pub filter: &'a str,
    /// Where; `None` is stderr.
    pub file: Option<&'a Path>,
    pub rotation: Rotation,
    /// Rotated files kept besides the live one.
    pub retention: usize,
    /// One JSON object a line instead of text.
    pub json: bool,
}

/// A log file that rotates and keeps `retention` old files: `NAME.1` (the
/// newest) .. `NAME.N` by size; `NAME.YYYYMMDDTHHMMSS` by time.
pub fn rotating_file(
    path: &Path,
    rotation: Rotation,
    retention: usize,
) -> anyhow::Result<Box<dyn Write + Send>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the log folder {}", dir.display()))?;
    }
    // Fail here, clearly, rather than inside the first log write.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open log file {}", path.display()))?;
    let keep = retention.max(1);
    Ok(match rotation {
        Rotation::Size(n) => Box::new(FileRotate::new(
            path,
            AppendCount::new(keep),
            ContentLimit::BytesSurpassed(n),
            Compression::None,
            None,
        )),
        Rotation::Hourly | Rotation::Daily => {
            let every = match rotation {
                Rotation::Hourly => TimeFrequency::Hourly,
                _ => TimeFrequency::Daily,
            };
            Box::new(FileRotate::new(
                path,
                AppendTimestamp::default(FileLimit::MaxFiles(keep)),
                ContentLimit::Time(every),
                Compression::None,
                None,
            ))
        }
    })
}

/// Installs the process's tracing subscriber.
pub fn init(spec: &LogSpec<'_>) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(spec.filter))
        .with_context(|| format!("logging.level: {:?} is not a log level", spec.filter))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match (spec.file, spec.json) {
        (Some(path), json) => {
            let w = Mutex::new(rotating_file(path, spec.rotation, spec.retention)?);
            let b = builder.with_ansi(false).with_writer(w);
            if json {
                b.json().try_init()
            } else {
                b.try_init()
            }
        }
        (None, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (None, false) => builder.with_writer(std::io::stderr).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotations_read_as_the_seed_writes_them() {
        let ok = [
            ("50 MB", Rotation::Size(50_000_000)),
            ("500KB", Rotation::Size(500_000)),
            ("1 GiB", Rotation::Size(1 << 30)),
            ("1.5 kb", Rotation::Size(1_500)),
            ("1000 B", Rotation::Size(1_000)),
            ("daily", Rotation::Daily),
            (" Hourly ", Rotation::Hourly),
        ];
        for (text, want) in ok {
            assert_eq!(text.parse::<Rotation>(), Ok(want), "{text}");
        }
        for bad in ["", "MB", "50", "50 parsecs", "-1 MB", "0 B", "weekly-ish"] {
            let err = bad.parse::<Rotation>().unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn a_size_rotated_file_keeps_only_retention_old_files_and_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("dp.log");
        let mut w = rotating_file(&path, Rotation::Size(1_000), 3).unwrap();
        // One write per event, as the logger does.
        let mut line = vec![b'x'; 99];
        line.push(b'\n');
        for _ in 0..200 {
            w.write_all(&line).unwrap();
        }
        w.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["dp.log", "dp.log.1", "dp.log.2", "dp.log.3"]);
        for n in &names {
            let len = std::fs::metadata(path.parent().unwrap().join(n))
                .unwrap()
                .len();
            assert!(len <= 1_000 + 100, "{n}: {len} bytes");
        }
        // The newest rotated file holds whole lines.
        let text = std::fs::read_to_string(path.with_extension("log.1")).unwrap();
        assert!(text.lines().all(|l| l.len() == 99), "whole lines only");
    }

    #[test]
    fn a_log_file_that_cannot_be_opened_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "not a folder").unwrap();
        let err = rotating_file(&blocker.join("dp.log"), Rotation::Daily, 2)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("log"), "{err:#}");
    }
}
