//! [`Secret`]: the one type for a pool password or an auth token held in a
//! struct. `Debug` and `Display` print `***`, so neither a `{:?}` of a config
//! nor a log line can show it; the text is reached only through
//! [`Secret::expose`], which makes every use easy to find. It serializes and
//! deserializes as the plain string, so config files and stored rows are
//! unchanged.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A password or token; see the module docs.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// What `Debug` and `Display` print instead of the secret.
    pub const MASK: &'static str = "***";

    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret text, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

/// For command-line parsers (clap) and `str::parse`.
impl FromStr for Secret {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Secret(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "s3cr3t-Zq9-pool-pw";

    #[test]
    fn formatting_masks_and_expose_reveals() {
        let s = Secret::from(TEXT);
        for text in [
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{s}"),
            format!("{:?}", Some(&s)),
        ] {
            assert!(!text.contains(TEXT), "{text}");
            assert!(text.contains("***"), "{text}");
        }
        assert_eq!(s.expose(), TEXT);
        assert_eq!(TEXT.parse::<Secret>(), Ok(s));
    }

    #[test]
    fn serde_is_the_plain_string() {
        let s = Secret::from(TEXT);
        let yaml = serde_yaml_ng::to_string(&s).unwrap();
        assert_eq!(yaml.trim(), TEXT);
        let back: Secret = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(back.expose(), TEXT);
    }
}
