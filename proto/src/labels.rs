//! The label of every contract enum value: the lower-case name the
//! database stores, ctl prints and config files spell (`sha256`,
//! `accepted`, `stale job`, `passthrough`, `iceriver`, `schedule`, `idle`), and
//! back. UNSPECIFIED has the empty label. Also [`known`]: an enum field as
//! prost holds it (`i32`), checked, with an error naming the field.

use crate::v1::{AleoDialect, Algorithm, PoolMode, Reason, SwitchReason, Verdict, WorkerState};

/// `label()`, `from_label()` and `ALL` for a generated enum, given the
/// labels of its values other than UNSPECIFIED.
macro_rules! labels {
    ($ty:ident { $($variant:ident => $label:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, UNSPECIFIED first.
            pub const ALL: &'static [$ty] = &[$ty::Unspecified, $($ty::$variant),+];

            /// The stored and shown name ("" for UNSPECIFIED).
            pub const fn label(self) -> &'static str {
                match self {
                    $ty::Unspecified => "",
                    $($ty::$variant => $label,)+
                }
            }

            /// The value with this exact label (not UNSPECIFIED: an empty
            /// label is `None`).
            pub fn from_label(label: &str) -> Option<$ty> {
                match label {
                    $($label => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

labels!(Algorithm {
    Sha256 => "sha256",
    Randomx => "randomx",
    Zksnark => "zksnark",
});

labels!(Verdict {
    Accepted => "accepted",
    Rejected => "rejected",
});

labels!(Reason {
    Duplicate => "duplicate share",
    Stale => "stale job",
    LowDifficulty => "low difficulty share",
    JobNotFound => "job not found",
    Unauthorized => "unauthorized",
    Timeout => "timeout",
    NotConnected => "not connected",
    Invalid => "invalid share",
    InvalidNonce => "invalid nonce",
    Other => "other",
});

labels!(PoolMode {
    Aggregate => "aggregate",
    Passthrough => "passthrough",
});

labels!(AleoDialect {
    Aleostratum3 => "aleostratum3",
    Iceriver => "iceriver",
});

labels!(WorkerState {
    Online => "online",
    Idle => "idle",
    Offline => "offline",
});

labels!(SwitchReason {
    Schedule => "schedule",
    OverrideEnds => "override-ends",
});

impl Reason {
    /// A stored reason (a category's label or any other text) as the enum
    /// and, for OTHER, the text; empty is UNSPECIFIED.
    pub fn from_stored(stored: &str) -> (Reason, &str) {
        match Reason::from_label(stored) {
            _ if stored.is_empty() => (Reason::Unspecified, ""),
            Some(r) if r != Reason::Other => (r, ""),
            _ => (Reason::Other, stored),
        }
    }

    /// What is stored and shown: the category's label, or for OTHER its text.
    pub fn stored(self, text: &str) -> &str {
        match self {
            Reason::Other => text,
            r => r.label(),
        }
    }
}

/// The value of an enum field as prost holds it, or an error naming the
/// field: a number this build does not know comes from a newer peer.
pub fn known<E: TryFrom<i32>>(field: &str, value: i32) -> Result<E, String> {
    E::try_from(value).map_err(|_| {
        format!("{field}: {value} is not a value this version knows (sent by a newer peer?)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value's label reads back as the value; labels are distinct.
    macro_rules! round_trip {
        ($ty:ident) => {{
            let mut seen = std::collections::HashSet::new();
            for v in $ty::ALL {
                assert!(seen.insert(v.label()), "{:?}: label used twice", v);
                let back = $ty::from_label(v.label());
                if *v == $ty::Unspecified {
                    assert_eq!(back, None);
                } else {
                    assert_eq!(back, Some(*v), "{}", v.label());
                }
                assert_eq!(known::<$ty>("f", *v as i32), Ok(*v));
            }
            assert_eq!($ty::from_label("Bogus"), None);
        }};
    }

    #[test]
    fn every_value_round_trips_through_its_label() {
        round_trip!(Algorithm);
        round_trip!(Verdict);
        round_trip!(Reason);
        round_trip!(PoolMode);
        round_trip!(AleoDialect);
        round_trip!(SwitchReason);
        round_trip!(WorkerState);
        assert_eq!(Reason::Stale.label(), "stale job");
        assert_eq!(SwitchReason::OverrideEnds.label(), "override-ends");
    }

    #[test]
    fn stored_reasons_read_back_as_categories_or_text() {
        for r in Reason::ALL.iter().filter(|r| **r != Reason::Other) {
            assert_eq!(Reason::from_stored(r.label()), (*r, ""));
            assert_eq!(r.stored("ignored"), r.label());
        }
        assert_eq!(
            Reason::from_stored("pool is on fire"),
            (Reason::Other, "pool is on fire")
        );
        assert_eq!(Reason::from_stored("other"), (Reason::Other, "other"));
        assert_eq!(Reason::Other.stored("error 20"), "error 20");
    }

    #[test]
    fn an_unknown_number_is_an_error_naming_the_field() {
        let err = known::<Verdict>("events[3].local_verdict", 7).unwrap_err();
        assert!(err.starts_with("events[3].local_verdict: 7 "), "{err}");
        assert_eq!(known::<Algorithm>("a", 0), Ok(Algorithm::Unspecified));
    }
}
