//! The algorithm families a data plane serves, one listener each.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An algorithm family. The config keys and the wire names are the seed's:
/// `sha256`, `randomx`, `zksnark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha256,
    Randomx,
    Zksnark,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha256, Algorithm::Randomx, Algorithm::Zksnark];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Randomx => "randomx",
            Algorithm::Zksnark => "zksnark",
        }
    }

    /// The seed's default miner port for this algorithm.
    pub fn default_port(self) -> u16 {
        match self {
            Algorithm::Sha256 => 3333,
            Algorithm::Randomx => 3334,
            Algorithm::Zksnark => 3335,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown algorithm name; it lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm {0:?} (known: sha256, randomx, zksnark)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sha256" | "sha-256" => Ok(Algorithm::Sha256),
            "randomx" => Ok(Algorithm::Randomx),
            "zksnark" => Ok(Algorithm::Zksnark),
            _ => Err(UnknownAlgorithm(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>(), Ok(a));
        }
        let err = "scrypt".parse::<Algorithm>().unwrap_err();
        assert!(err.to_string().contains("scrypt"));
        assert!(err.to_string().contains("randomx"));
    }
}
