//! Durations as written in access-repo files: `30m`, `2h`, `1h30m`, `1d`.

use std::fmt;

use chrono::TimeDelta;

/// A whole number of minutes, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    minutes: i64,
}

impl Duration {
    pub fn from_minutes(minutes: i64) -> Duration {
        Duration { minutes }
    }

    pub fn minutes(self) -> i64 {
        self.minutes
    }

    pub fn to_delta(self) -> TimeDelta {
        TimeDelta::minutes(self.minutes)
    }

    /// Parses `1d2h30m`-style text: units d, h, m, each at most once, in that order.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let bad = || {
            format!(
                "invalid duration `{text}`: use a number with a unit, like `30m`, `2h`, `1h30m` or `1d`"
            )
        };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut minutes: i64 = 0;
        let mut last_rank = 0;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 6 {
                return Err(bad());
            }
            let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
            let unit = rest[digits..].chars().next().ok_or_else(bad)?;
            let (rank, factor) = match unit {
                'd' => (1, 24 * 60),
                'h' => (2, 60),
                'm' => (3, 1),
                _ => return Err(bad()),
            };
            if rank <= last_rank {
                return Err(bad());
            }
            last_rank = rank;
            minutes += n * factor;
            rest = &rest[digits + 1..];
        }
        if minutes < 1 {
            return Err(format!("invalid duration `{text}`: must be at least 1m"));
        }
        Ok(Duration { minutes })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, h, m) = (
            self.minutes / (24 * 60),
            self.minutes / 60 % 24,
            self.minutes % 60,
        );
        if d > 0 {
            write!(f, "{d}d")?;
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 || self.minutes == 0 {
            write!(f, "{m}m")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        for (text, minutes) in [
            ("30m", 30),
            ("2h", 120),
            ("1h30m", 90),
            ("1d", 1440),
            ("1d2h", 1560),
            ("90m", 90),
        ] {
            assert_eq!(Duration::parse(text).unwrap().minutes(), minutes, "{text}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "", "2", "h", "2x", "1m2h", "2h2h", "0m", "-1h", "1.5h", "2 h",
        ] {
            assert!(Duration::parse(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn displays_canonically() {
        assert_eq!(Duration::from_minutes(90).to_string(), "1h30m");
        assert_eq!(Duration::from_minutes(1440 + 60).to_string(), "1d1h");
        assert_eq!(Duration::from_minutes(240).to_string(), "4h");
    }
}
