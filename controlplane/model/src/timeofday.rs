//! `HH:MM` wall-clock times of a site's day, at minute resolution everywhere
//! (the seed validated minutes but matched seconds; here there is one
//! resolution). `24:00` is the end of the day and is only valid as an end.
//!
//! OWNER: helper "schedule-config" fills in parsing and its tests.

use std::fmt;

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
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}
