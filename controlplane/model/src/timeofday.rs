//! `HH:MM` wall-clock times of a site's day, at minute resolution everywhere
//! (the seed validated minutes but matched seconds; here there is one
//! resolution). `24:00` is the end of the day and is only valid as an end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Minutes since local midnight, `0..=1440` (1440 = `24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(1440);

    /// From minutes since midnight; `None` above 1440.
    pub fn from_minutes(m: u16) -> Option<Self> {
        (m <= 1440).then_some(TimeOfDay(m))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn hour(self) -> u32 {
        u32::from(self.0 / 60)
    }

    pub fn minute(self) -> u32 {
        u32::from(self.0 % 60)
    }

    /// Parses `HH:MM` (or `H:MM`) from `00:00` to `24:00`. Times with seconds
    /// are refused: schedules have minute resolution, and `23:59:59` is not a
    /// spelling of the end of the day (that is `24:00`). Whether `24:00` is
    /// allowed where it appears (only as an end) is the caller's rule.
    pub fn parse(s: &str) -> Result<TimeOfDay, String> {
        let t = s.trim();
        let expected = || format!("expected a time \"HH:MM\" from 00:00 to 24:00, found {s:?}");
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() == 3 && parts.iter().all(|p| is_digits(p)) {
            let hint = if t == "23:59:59" {
                "; for the end of the day write \"24:00\"".to_string()
            } else {
                format!("; write \"{}:{}\"", parts[0], parts[1])
            };
            return Err(format!(
                "{s:?} has seconds, but schedules have minute resolution (a time with seconds would leave part of a minute unscheduled){hint}"
            ));
        }
        let [h, m] = parts[..] else {
            return Err(expected());
        };
        if !(1..=2).contains(&h.len()) || m.len() != 2 || !is_digits(h) || !is_digits(m) {
            return Err(expected());
        }
        let (Ok(hour), Ok(minute)) = (h.parse::<u16>(), m.parse::<u16>()) else {
            return Err(expected());
        };
        if minute > 59 {
            return Err(format!(
                "minute {minute} in {s:?} is out of range (00 to 59)"
            ));
        }
        match hour {
            0..=23 => Ok(TimeOfDay(hour * 60 + minute)),
            24 if minute == 0 => Ok(TimeOfDay::END_OF_DAY),
            24 => Err(format!(
                "{s:?} is past the end of the day (24:00 is the latest time)"
            )),
            _ => Err(format!("hour {hour} in {s:?} is out of range (00 to 24)")),
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimeOfDay::parse(s)
    }
}

/// Serialized as the `"HH:MM"` string it was written as.
impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TimeOfDay::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> u16 {
        TimeOfDay::parse(s).unwrap().minutes()
    }

    #[test]
    fn parses_hh_mm_and_h_mm() {
        assert_eq!(t("00:00"), 0);
        assert_eq!(t("0:00"), 0);
        assert_eq!(t("9:05"), 545);
        assert_eq!(t("12:00"), 720);
        assert_eq!(t("23:59"), 1439);
        assert_eq!(t("24:00"), 1440);
        assert_eq!(t(" 07:30 "), 450);
        assert_eq!("12:00".parse::<TimeOfDay>(), Ok(TimeOfDay(720)));
    }

    #[test]
    fn displays_as_hh_mm() {
        assert_eq!(TimeOfDay(545).to_string(), "09:05");
        assert_eq!(TimeOfDay::END_OF_DAY.to_string(), "24:00");
        for m in 0..=1440 {
            let tod = TimeOfDay::from_minutes(m).unwrap();
            assert_eq!(TimeOfDay::parse(&tod.to_string()), Ok(tod));
        }
        assert_eq!(TimeOfDay::from_minutes(1441), None);
    }

    #[test]
    fn rejects_malformed_and_out_of_range() {
        for bad in [
            "",
            "12",
            "12:0",
            "12:000",
            "123:00",
            "ab:cd",
            "12:60",
            "25:00",
            "24:01",
            "-1:00",
            "12.00",
            "12:00pm",
            ":30",
            "１２:00",
        ] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            TimeOfDay::parse("24:30")
                .unwrap_err()
                .contains("past the end of the day")
        );
        assert!(TimeOfDay::parse("12:75").unwrap_err().contains("minute 75"));
    }

    /// Seed defect: a start of 12:00:30 passed minute-resolution validation
    /// and left 12:00:00-12:00:30 with no server.
    #[test]
    fn regression_times_with_seconds_are_rejected() {
        let err = TimeOfDay::parse("12:00:30").unwrap_err();
        assert!(err.contains("minute resolution"), "{err}");
        assert!(err.contains("\"12:00\""), "{err}");
    }

    /// Seed defect: 23:59:59 silently meant the end of the day.
    #[test]
    fn regression_23_59_59_is_not_end_of_day() {
        let err = TimeOfDay::parse("23:59:59").unwrap_err();
        assert!(err.contains("minute resolution"), "{err}");
        assert!(err.contains("24:00"), "{err}");
    }

    #[test]
    fn serde_as_string() {
        let v: TimeOfDay = serde_yaml_ng::from_str("\"22:00\"").unwrap();
        assert_eq!(v.minutes(), 1320);
        assert_eq!(serde_yaml_ng::to_string(&v).unwrap().trim(), "22:00");
        assert!(serde_yaml_ng::from_str::<TimeOfDay>("\"23:59:59\"").is_err());
    }
}
