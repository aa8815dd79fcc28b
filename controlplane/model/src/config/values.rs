//! How values and keys read in problem messages: a value's description
//! (`the string "abc"`) and the hint for an unknown key (`did you mean
//! `bind_port`?`, or the keys known there).

use serde_yaml_ng::Value;

/// How a value reads in a message: `the string "abc"`, `the number 720`.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 60 => {
            format!(
                "the string {:?}... ({} characters)",
                s.chars().take(40).collect::<String>(),
                s.chars().count()
            )
        }
        Value::String(s) => format!("the string {s:?}"),
        Value::Sequence(_) => "a list".to_string(),
        Value::Mapping(_) => "a mapping".to_string(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

pub(crate) fn unknown_key_message(key: &str, known: &[&str]) -> String {
    let mut known: Vec<&str> = known.to_vec();
    known.sort_unstable();
    known.dedup();
    let close = known
        .iter()
        .filter(|k| edit_distance(key, k) <= 2)
        .min_by_key(|k| edit_distance(key, k));
    match close {
        Some(k) => format!("unknown field `{key}`: did you mean `{k}`?"),
        None if known.is_empty() => format!("unknown field `{key}`"),
        None => format!("unknown field `{key}` (known here: {})", known.join(", ")),
    }
}

/// Levenshtein distance, for "did you mean" hints on short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn hints() {
        assert_eq!(
            unknown_key_message("bind_prot", &["bind_host", "bind_port"]),
            "unknown field `bind_prot`: did you mean `bind_port`?"
        );
        assert_eq!(
            unknown_key_message("zzz", &["b", "a", "b"]),
            "unknown field `zzz` (known here: a, b)"
        );
        assert_eq!(describe(&Value::from(720)), "the number 720");
    }
}
