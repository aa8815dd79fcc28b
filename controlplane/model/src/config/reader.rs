//! Reading a parsed YAML tree field by field, so that every wrong type, value
//! out of range and unknown key of a whole file is reported at once, each
//! under its field path (serde's `deny_unknown_fields` stops at the first).
//!
//! A [`Section`] is one mapping of the file. Each typed getter records its key
//! as known; [`Section::finish`] then names every key nobody asked for.

use std::ops::RangeInclusive;

use serde_yaml_ng::Value;

pub(crate) use super::values::describe;
use super::values::unknown_key_message;

use crate::problem::Problem;
use crate::timeofday::TimeOfDay;

pub(crate) type Problems = Vec<Problem>;

/// One mapping of the file, under its dotted path.
pub(crate) struct Section<'a> {
    path: String,
    entries: Vec<(&'a str, &'a Value)>,
    used: Vec<bool>,
    known: Vec<&'static str>,
}

impl<'a> Section<'a> {
    /// A section from a value; absent or `null` reads as an empty mapping,
    /// anything else that is not a mapping is a problem (and reads as empty).
    pub fn new(path: impl Into<String>, value: Option<&'a Value>, p: &mut Problems) -> Self {
        let path = path.into();
        let mut entries = Vec::new();
        match value {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(map)) => {
                for (k, v) in map {
                    match k {
                        Value::String(k) => entries.push((k.as_str(), v)),
                        other => p.push(Problem::new(
                            path.clone(),
                            format!("keys must be field names, found {}", describe(other)),
                        )),
                    }
                }
            }
            Some(other) => p.push(Problem::new(
                path.clone(),
                format!("expected a mapping of fields, found {}", describe(other)),
            )),
        }
        let used = vec![false; entries.len()];
        Section {
            path,
            entries,
            used,
            known: Vec::new(),
        }
    }

    /// The path of one of this section's fields.
    pub fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The value of a key, recording the key as known. `null` counts as absent.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        let i = self.entries.iter().position(|(k, _)| *k == key)?;
        self.used[i] = true;
        match self.entries[i].1 {
            Value::Null => None,
            v => Some(v),
        }
    }

    /// Whether the key is present in the file (even as `null`).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| *k == key)
    }

    pub fn section(&mut self, key: &'static str, p: &mut Problems) -> Section<'a> {
        let v = self.get(key);
        Section::new(self.at(key), v, p)
    }

    pub fn bool(&mut self, p: &mut Problems, key: &'static str, default: bool) -> bool {
        let Some(v) = self.get(key) else {
            return default;
        };
        match v {
            Value::Bool(b) => *b,
            // YAML 1.1 (the seed's PyYAML) reads these as booleans.
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" => true,
                "false" | "no" | "n" | "off" => false,
                _ => self.bad(p, key, "true or false", v, default),
            },
            Value::Number(n) if n.as_u64() == Some(1) => true,
            Value::Number(n) if n.as_u64() == Some(0) => false,
            _ => self.bad(p, key, "true or false", v, default),
        }
    }

    /// A whole number within `range` (quoted numbers are read too, as the
    /// seed's pydantic did).
    pub fn uint(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> u64 {
        let Some(v) = self.get(key) else {
            return default;
        };
        let n = match v {
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Some(u),
                (None, Some(i), _) if i < 0 => {
                    let msg = format!(
                        "must be from {} to {}, found {i}",
                        range.start(),
                        range.end()
                    );
                    p.push(Problem::new(self.at(key), msg));
                    return default;
                }
                (_, _, Some(f))
                    if f.is_finite() && f.fract() == 0.0 && (0.0..1e15).contains(&f) =>
                {
                    Some(f as u64)
                }
                _ => None,
            },
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        let Some(n) = n else {
            return self.bad(p, key, "a whole number", v, default);
        };
        if !range.contains(&n) {
            let msg = format!(
                "must be from {} to {}, found {n}",
                range.start(),
                range.end()
            );
            p.push(Problem::new(self.at(key), msg));
            return default;
        }
        n
    }

    pub fn u32(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        default: u32,
        range: RangeInclusive<u32>,
    ) -> u32 {
        let r = u64::from(*range.start())..=u64::from(*range.end());
        u32::try_from(self.uint(p, key, u64::from(default), r)).unwrap_or(default)
    }

    pub fn u16(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        default: u16,
        range: RangeInclusive<u16>,
    ) -> u16 {
        let r = u64::from(*range.start())..=u64::from(*range.end());
        u16::try_from(self.uint(p, key, u64::from(default), r)).unwrap_or(default)
    }

    pub fn float(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        default: f64,
        range: RangeInclusive<f64>,
    ) -> f64 {
        self.opt_float(p, key, range).unwrap_or(default)
    }

    /// An optional finite number within `range`; `None` when absent or wrong.
    pub fn opt_float(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        range: RangeInclusive<f64>,
    ) -> Option<f64> {
        let v = self.get(key)?;
        let f = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let Some(f) = f.filter(|f| f.is_finite()) else {
            return self.bad(p, key, "a number", v, None);
        };
        if !range.contains(&f) {
            let msg = format!(
                "must be from {} to {}, found {f}",
                range.start(),
                range.end()
            );
            p.push(Problem::new(self.at(key), msg));
            return None;
        }
        Some(f)
    }

    /// A string; numbers and booleans are refused (quote them), so that
    /// nothing is silently reformatted.
    pub fn opt_string(&mut self, p: &mut Problems, key: &'static str) -> Option<String> {
        let v = self.get(key)?;
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) | Value::Bool(_) => {
                let msg = format!("expected a string, found {}: quote it", describe(v));
                p.push(Problem::new(self.at(key), msg));
                None
            }
            _ => self.bad(p, key, "a string", v, None),
        }
    }

    pub fn string(&mut self, p: &mut Problems, key: &'static str, default: &str) -> String {
        self.opt_string(p, key)
            .unwrap_or_else(|| default.to_string())
    }

    /// A string that must be present: `what` says what needs it.
    pub fn required_string(
        &mut self,
        p: &mut Problems,
        key: &'static str,
        what: &str,
    ) -> Option<String> {
        if !self.entries.iter().any(|(k, v)| *k == key && !v.is_null()) {
            self.get(key);
            p.push(Problem::new(
                self.at(key),
                format!("missing: {what} needs a `{key}`"),
            ));
            return None;
        }
        self.opt_string(p, key)
    }

    /// An optional `"HH:MM"` time. `Err(())` when present but wrong (already
    /// reported). A YAML number here is never turned into a time.
    pub fn time(&mut self, p: &mut Problems, key: &'static str) -> Result<Option<TimeOfDay>, ()> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let msg = match v {
            Value::String(s) => match TimeOfDay::parse(s) {
                Ok(t) => return Ok(Some(t)),
                Err(e) => e,
            },
            Value::Number(n) => format!(
                "found the number {n}, not a time: write times as quoted \"HH:MM\" strings (e.g. {key}: \"12:00\"); \
                 a YAML 1.1 reader turns an unquoted 12:00 into the number 720"
            ),
            other => format!(
                "expected a quoted \"HH:MM\" time, found {}",
                describe(other)
            ),
        };
        p.push(Problem::new(self.at(key), msg));
        Err(())
    }

    /// A list under `key`, each item with its path (`key[i]`); absent or
    /// `null` is an empty list.
    pub fn list(&mut self, p: &mut Problems, key: &'static str) -> Vec<(String, &'a Value)> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        list_items(&self.at(key), v, p)
    }

    /// The fields left: every key of this section that no getter asked for.
    pub fn finish(self, p: &mut Problems) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                p.push(Problem::new(
                    join(&self.path, k),
                    unknown_key_message(k, &self.known),
                ));
            }
        }
    }

    /// The keys of a mapping section whose keys are data (algorithm names),
    /// all marked as used; the caller checks them.
    pub fn entries(&mut self) -> Vec<(&'a str, &'a Value)> {
        self.used.iter_mut().for_each(|u| *u = true);
        self.entries.clone()
    }

    fn bad<T>(&self, p: &mut Problems, key: &str, expected: &str, found: &Value, default: T) -> T {
        p.push(Problem::new(
            self.at(key),
            format!("expected {expected}, found {}", describe(found)),
        ));
        default
    }
}

/// The items of a sequence value, each with its path `path[i]`.
pub(crate) fn list_items<'a>(
    path: &str,
    v: &'a Value,
    p: &mut Problems,
) -> Vec<(String, &'a Value)> {
    match v {
        Value::Null => Vec::new(),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (format!("{path}[{i}]"), item))
            .collect(),
        other => {
            p.push(Problem::new(
                path,
                format!("expected a list, found {}", describe(other)),
            ));
            Vec::new()
        }
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (Value, Problems) {
        (serde_yaml_ng::from_str(yaml).unwrap(), Vec::new())
    }

    #[test]
    fn typed_getters_report_by_path() {
        let (v, mut p) = read("port: abc\nok: yes\nn: \"42\"\nf: .nan\nneg: -3\nname: 12\n");
        let mut s = Section::new("x", Some(&v), &mut p);
        assert_eq!(s.u16(&mut p, "port", 3333, 1..=65535), 3333);
        assert!(s.bool(&mut p, "ok", false));
        assert_eq!(s.u32(&mut p, "n", 0, 0..=100), 42);
        assert_eq!(s.opt_float(&mut p, "f", 0.0..=1.0), None);
        assert_eq!(s.u32(&mut p, "neg", 7, 0..=100), 7);
        assert_eq!(s.opt_string(&mut p, "name"), None);
        s.finish(&mut p);
        let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["x.port", "x.f", "x.neg", "x.name"]);
        assert_eq!(
            p[0].message,
            "expected a whole number, found the string \"abc\""
        );
        assert!(p[3].message.contains("quote it"));
    }

    #[test]
    fn unknown_keys_are_all_named_with_hints() {
        let (v, mut p) = read("bind_prot: 1\nbind_host: h\nfoo: 2\n");
        let mut s = Section::new("proxy.sha256", Some(&v), &mut p);
        s.opt_string(&mut p, "bind_host");
        s.u16(&mut p, "bind_port", 1, 1..=2);
        s.finish(&mut p);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].field, "proxy.sha256.bind_prot");
        assert!(p[0].message.contains("did you mean `bind_port`"));
        assert_eq!(p[1].field, "proxy.sha256.foo");
        assert!(p[1].message.contains("known here: bind_host, bind_port"));
    }
}
