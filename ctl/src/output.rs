//! Rendering of results as aligned human tables, JSON (for scripts: snake_case
//! keys, times as RFC 3339 UTC plus unix ms) or CSV with a header row. A
//! command describes its rows once as a [`Sheet`]; this module owns the three
//! renderings and writing to stdout; single values are formatted by
//! [`crate::values`].

use std::io::Write;

use chrono_tz::Tz;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use switchyard_model::{Algorithm, hashrate};

use crate::error::{CtlError, CtlResult};
use crate::values::{clean, fmt_age, fmt_difficulty, fmt_time, rfc3339, to_utc};

/// The `--output` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// A pretty JSON array (or object) for scripts.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Where a column appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Both,
    Human,
    Machine,
}

/// One column of a [`Sheet`].
#[derive(Debug, Clone, Copy)]
pub struct Column {
    key: &'static str,
    title: &'static str,
    shown: Shown,
    time: bool,
}

impl Column {
    /// A column in every format.
    pub const fn new(key: &'static str, title: &'static str) -> Self {
        Column {
            key,
            title,
            shown: Shown::Both,
            time: false,
        }
    }
    /// A time column: machine formats get `key` (RFC 3339 UTC) and `key_unix_ms`.
    pub const fn time(key: &'static str, title: &'static str) -> Self {
        Column {
            key,
            title,
            shown: Shown::Both,
            time: true,
        }
    }
    /// A column only in the human table.
    pub const fn human(title: &'static str) -> Self {
        Column {
            key: "",
            title,
            shown: Shown::Human,
            time: false,
        }
    }
    /// A time column only in JSON and CSV (`key` and `key_unix_ms`).
    pub const fn machine_time(key: &'static str) -> Self {
        Column {
            key,
            title: "",
            shown: Shown::Machine,
            time: true,
        }
    }
    /// A column only in JSON and CSV.
    pub const fn machine(key: &'static str) -> Self {
        Column {
            key,
            title: "",
            shown: Shown::Machine,
            time: false,
        }
    }
}

/// One value of a row.
#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    U64(u64),
    F64(Option<f64>),
    /// A percentage, shown and exported with one decimal.
    Pct(Option<f64>),
    Bool(bool),
    /// Unix ms (0 = none), shown in the zone when given, otherwise UTC.
    Time(i64, Option<Tz>),
    /// Unix ms (0 = none) shown as an age and a UTC time: `3s ago (2026-...)`;
    /// the second value is now in unix ms.
    TimeAgo(i64, i64),
    List(Vec<String>),
    /// Anything else: what people see, the JSON value, the CSV text.
    Custom {
        human: String,
        machine: Value,
        csv: String,
    },
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// A difficulty: compact for people (`65536`, `1.2T`), exact for machines.
    pub fn difficulty(v: f64) -> Cell {
        Cell::Custom {
            human: fmt_difficulty(v),
            machine: num(Some(v)),
            csv: v.to_string(),
        }
    }

    /// A hashrate of `algorithm` (a contract value): `112.4 TH/s` for
    /// people (`work/s` for ALEO), the number in H/s for machines.
    pub fn hashrate(algorithm: i32, rate: f64) -> Cell {
        let unit = Algorithm::from_wire(algorithm).map_or("H/s", hashrate::unit);
        Cell::Custom {
            human: hashrate::format_unit(rate, unit),
            machine: num(Some(rate)),
            csv: rate.to_string(),
        }
    }

    fn human(&self) -> String {
        let s = match self {
            Cell::Text(s) => s.clone(),
            Cell::U64(n) => n.to_string(),
            Cell::F64(v) => v.map(|v| v.to_string()).unwrap_or_default(),
            Cell::Pct(v) => v.map(|v| format!("{:.1}%", round1(v))).unwrap_or_default(),
            Cell::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Cell::Time(ms, tz) => fmt_time(*ms, *tz),
            Cell::TimeAgo(0, _) => String::new(),
            Cell::TimeAgo(ms, now) => format!("{} ({})", fmt_age(*ms, *now), fmt_time(*ms, None)),
            Cell::List(v) => v.join(", "),
            Cell::Custom { human, .. } => human.clone(),
        };
        let s = clean(&s);
        if s.is_empty() { "-".to_string() } else { s }
    }

    /// The machine values: two for a time column, one otherwise.
    fn machine(&self, time: bool) -> Vec<Value> {
        match self {
            Cell::Text(s) => vec![Value::from(s.as_str())],
            Cell::U64(n) => vec![Value::from(*n)],
            Cell::F64(v) => vec![num(*v)],
            Cell::Pct(v) => vec![num(v.map(round1))],
            Cell::Bool(b) => vec![Value::from(*b)],
            Cell::Time(ms, _) | Cell::TimeAgo(ms, _) => match to_utc(*ms) {
                Some(t) => vec![Value::from(rfc3339(t)), Value::from(*ms)],
                None => vec![Value::Null, Value::Null],
            },
            Cell::List(v) => vec![Value::from(v.clone())],
            Cell::Custom { machine, .. } => vec![machine.clone()],
        }
        .into_iter()
        .chain((time && !matches!(self, Cell::Time(..) | Cell::TimeAgo(..))).then_some(Value::Null))
        .collect()
    }

    fn csv(&self, time: bool) -> Vec<String> {
        match self {
            Cell::Custom { csv, .. } => vec![csv.clone()],
            Cell::List(v) => vec![v.join(";")],
            _ => self.machine(time).iter().map(csv_scalar).collect(),
        }
    }
}

/// One decimal, halves away from zero (the same in every format).
fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn num(v: Option<f64>) -> Value {
    v.and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn csv_scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rows described once, rendered as a table, JSON or CSV.
#[derive(Debug)]
pub struct Sheet {
    columns: &'static [Column],
    rows: Vec<Vec<Cell>>,
}

impl Sheet {
    pub fn new(columns: &'static [Column]) -> Sheet {
        Sheet {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per column (missing cells are empty).
    pub fn push(&mut self, mut row: Vec<Cell>) {
        row.resize(self.columns.len(), Cell::text(""));
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn pairs(&self, row: &[Cell]) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for (c, cell) in self.columns.iter().zip(row) {
            if c.shown == Shown::Human {
                continue;
            }
            let mut values = cell.machine(c.time).into_iter();
            out.push((c.key.to_string(), values.next().unwrap_or(Value::Null)));
            if c.time {
                out.push((
                    format!("{}_unix_ms", c.key),
                    values.next().unwrap_or(Value::Null),
                ));
            }
        }
        out
    }

    /// The aligned human table (with a header row).
    pub fn table(&self) -> String {
        let cols: Vec<usize> = (0..self.columns.len())
            .filter(|i| self.columns[*i].shown != Shown::Machine)
            .collect();
        let mut grid = vec![
            cols.iter()
                .map(|i| self.columns[*i].title.to_string())
                .collect::<Vec<_>>(),
        ];
        for row in &self.rows {
            grid.push(cols.iter().map(|i| row[*i].human()).collect());
        }
        align(&grid)
    }

    /// A pretty JSON array of objects, keys in column order.
    pub fn json(&self) -> String {
        let rows: Vec<Ordered> = self.rows.iter().map(|r| Ordered(self.pairs(r))).collect();
        serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".to_string())
    }

    /// The first row as a pretty JSON object (`{}` when there is none).
    pub fn json_object(&self) -> String {
        let row = self
            .rows
            .first()
            .map(|r| Ordered(self.pairs(r)))
            .unwrap_or(Ordered(Vec::new()));
        serde_json::to_string_pretty(&row).unwrap_or_else(|_| "{}".to_string())
    }

    /// Prints a single result: like [`Sheet::print`], but JSON is an object
    /// and the table follows a `heading` line.
    pub fn print_one(&self, format: Format, heading: &str) -> CtlResult {
        match format {
            Format::Table => emit(&format!("{heading}\n{}", self.table())),
            Format::Json => emit(&format!("{}\n", self.json_object())),
            Format::Csv => emit(&self.csv()),
        }
    }

    /// CSV with a header row of the JSON keys.
    pub fn csv(&self) -> String {
        let mut header = Vec::new();
        for c in self.columns.iter().filter(|c| c.shown != Shown::Human) {
            header.push(c.key.to_string());
            if c.time {
                header.push(format!("{}_unix_ms", c.key));
            }
        }
        let mut out = csv_line(&header);
        for row in &self.rows {
            let mut fields = Vec::new();
            for (c, cell) in self.columns.iter().zip(row) {
                if c.shown != Shown::Human {
                    fields.extend(cell.csv(c.time));
                }
            }
            out.push_str(&csv_line(&fields));
        }
        out
    }

    /// Writes the sheet in `format`; an empty table prints `empty` to stderr.
    pub fn print(&self, format: Format, empty: &str) -> CtlResult {
        match format {
            Format::Table if self.rows.is_empty() => {
                eprintln!("{empty}");
                Ok(())
            }
            Format::Table => emit(&self.table()),
            Format::Json => emit(&format!("{}\n", self.json())),
            Format::Csv => emit(&self.csv()),
        }
    }
}

/// A list of key/value pairs serialized as a JSON object in that order.
struct Ordered(Vec<(String, Value)>);

impl Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Aligns rows of cells into columns two spaces apart.
pub fn align(grid: &[Vec<String>]) -> String {
    let ncols = grid.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; ncols];
    for row in grid {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in grid {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) || f.starts_with(' ') || f.ends_with(' ') {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// Writes to stdout; a closed pipe (`ctl ... | head`) is not an error.
pub fn emit(s: &str) -> CtlResult {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CtlError::Failed(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Prints any serializable value as pretty JSON.
pub fn emit_json<T: Serialize>(value: &T) -> CtlResult {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| CtlError::Failed(format!("cannot encode JSON: {e}")))?;
    emit(&format!("{s}\n"))
}

/// Confirms a change: a line for people, `{"ok": true, ...}` for JSON,
/// stderr for CSV (which has no rows to print).
pub fn done(format: Format, message: &str) -> CtlResult {
    match format {
        Format::Table => emit(&format!("{message}\n")),
        Format::Json => emit_json(&serde_json::json!({ "ok": true, "message": message })),
        Format::Csv => {
            eprintln!("{message}");
            Ok(())
        }
    }
}
