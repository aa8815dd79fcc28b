//! The algorithm families, one listener each, as both processes hold them:
//! the names in config files and in the database are the seed's (`sha256`,
//! `randomx`, `zksnark`); the contract's enum converts at the edge
//! ([`Algorithm::from_wire`], [`Algorithm::to_wire`]). It lives with the
//! contract so that the data plane and the control plane share one type
//! without the data plane depending on the control plane's model.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::v1 as pb;

/// An algorithm family.
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

    /// The contract's value of this algorithm.
    pub fn to_wire(self) -> pb::Algorithm {
        match self {
            Algorithm::Sha256 => pb::Algorithm::Sha256,
            Algorithm::Randomx => pb::Algorithm::Randomx,
            Algorithm::Zksnark => pb::Algorithm::Zksnark,
        }
    }

    /// From a contract field (`i32` as prost holds it); `None` for
    /// UNSPECIFIED or a value this data plane does not know.
    pub fn from_wire(v: i32) -> Option<Algorithm> {
        match pb::Algorithm::try_from(v).ok()? {
            pb::Algorithm::Unspecified => None,
            pb::Algorithm::Sha256 => Some(Algorithm::Sha256),
            pb::Algorithm::Randomx => Some(Algorithm::Randomx),
            pb::Algorithm::Zksnark => Some(Algorithm::Zksnark),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown algorithm name; it lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown algorithm {:?} (known: sha256, randomx, zksnark)",
            self.0
        )
    }
}

impl std::error::Error for UnknownAlgorithm {}

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
    fn names_and_wire_values_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>(), Ok(a));
            assert_eq!(Algorithm::from_wire(a.to_wire() as i32), Some(a));
            assert_eq!(a.to_wire().label(), a.as_str());
            let yaml: Algorithm = serde_yaml_ng::from_str(a.as_str()).unwrap();
            assert_eq!(yaml, a);
        }
        assert_eq!(Algorithm::from_wire(0), None, "UNSPECIFIED");
        assert_eq!(Algorithm::from_wire(99), None, "a newer peer's value");
        let err = "scrypt".parse::<Algorithm>().unwrap_err();
        assert!(err.to_string().contains("scrypt"));
        assert!(err.to_string().contains("randomx"));
    }
}
