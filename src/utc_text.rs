//! A timestamp as RFC 3339 text in UTC, written from its fields: no format
//! string is read per call, as jiff's `strftime` (which k8s-openapi's
//! `Time` uses) reads one every time. Kubernetes writes whole seconds, the
//! Meetings API milliseconds.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// How much of the second the text keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `2026-01-02T03:04:05Z`, as Kubernetes' `Time`.
    Seconds,
    /// `2026-01-02T03:04:05.678Z`, as the Meetings API.
    Millis,
}

/// `at` as text to the given precision, through [`fmt::Display`].
#[derive(Clone, Copy, Debug)]
pub struct UtcText {
    /// The instant written.
    pub at: Timestamp,
    /// How much of its second is written.
    pub precision: Precision,
}

impl fmt::Display for UtcText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = TimeZone::UTC.to_datetime(self.at);
        if !(0..=9999).contains(&t.year()) {
            // Years four digits cannot hold: the format string's own text.
            let format = match self.precision {
                Precision::Seconds => "%Y-%m-%dT%H:%M:%SZ",
                Precision::Millis => "%Y-%m-%dT%H:%M:%S%.3fZ",
            };
            return write!(f, "{}", self.at.strftime(format));
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        if self.precision == Precision::Millis {
            write!(f, ".{:03}", t.millisecond())?;
        }
        f.write_str("Z")
    }
}
