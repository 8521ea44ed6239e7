//! The simulator's injectable clock: real time plus an offset, optionally frozen.

use std::sync::Mutex;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

/// Simulated wall clock. Tests move it forward to expire rooms and uploads.
#[derive(Debug)]
pub struct SimClock {
    inner: Mutex<ClockState>,
}

#[derive(Debug, Clone, Copy)]
struct ClockState {
    /// Simulated time at `anchor_real`.
    anchor_sim: Timestamp,
    anchor_real: Instant,
    frozen: bool,
}

impl SimClock {
    /// A clock starting at `start` (default: now), running unless `frozen`.
    pub fn new(start: Option<Timestamp>, frozen: bool) -> Self {
        Self {
            inner: Mutex::new(ClockState {
                anchor_sim: start.unwrap_or_else(Timestamp::now),
                anchor_real: Instant::now(),
                frozen,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current simulated time, truncated to milliseconds.
    pub fn now(&self) -> Timestamp {
        let state = *self.state();
        let now = if state.frozen {
            state.anchor_sim
        } else {
            let elapsed = SignedDuration::try_from(state.anchor_real.elapsed())
                .unwrap_or(SignedDuration::MAX);
            state
                .anchor_sim
                .saturating_add(elapsed)
                .unwrap_or(state.anchor_sim)
        };
        truncate_millis(now)
    }

    /// Moves the clock by `by` (may be negative) and returns the new time.
    pub fn advance(&self, by: SignedDuration) -> Timestamp {
        {
            let mut state = self.state();
            state.anchor_sim = state
                .anchor_sim
                .saturating_add(by)
                .unwrap_or(state.anchor_sim);
        }
        self.now()
    }

    /// Jumps the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        let mut state = self.state();
        state.anchor_sim = to;
        state.anchor_real = Instant::now();
    }

    /// Stops (`true`) or restarts (`false`) the passing of real time.
    pub fn freeze(&self, frozen: bool) {
        let now = self.now();
        let mut state = self.state();
        state.anchor_sim = now;
        state.anchor_real = Instant::now();
        state.frozen = frozen;
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        self.state().frozen
    }
}

/// Drops sub-millisecond precision, as the service stores times.
pub fn truncate_millis(ts: Timestamp) -> Timestamp {
    let millis = ts.as_millisecond();
    Timestamp::from_millisecond(millis).unwrap_or(ts)
}

/// Renders `2023-01-24T03:20:38.629Z`.
pub fn format_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses an ISO 8601 timestamp; without an offset it is read as UTC, a bare date as UTC midnight.
pub fn parse_ts(text: &str) -> Option<Timestamp> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(truncate_millis(ts));
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| truncate_millis(z.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds() {
        let ts: Timestamp = "2023-01-24T03:20:38.629123Z".parse().unwrap();
        assert_eq!(format_ts(truncate_millis(ts)), "2023-01-24T03:20:38.629Z");
        let ts: Timestamp = "2023-01-24T03:20:38Z".parse().unwrap();
        assert_eq!(format_ts(ts), "2023-01-24T03:20:38.000Z");
    }

    #[test]
    fn parses_offsets_and_dates() {
        assert_eq!(
            parse_ts("2023-01-24T05:20:38.629+02:00").map(format_ts),
            Some("2023-01-24T03:20:38.629Z".to_string())
        );
        assert_eq!(
            parse_ts("2023-01-24").map(format_ts),
            Some("2023-01-24T00:00:00.000Z".to_string())
        );
        assert_eq!(
            parse_ts("2023-01-24T03:20:38").map(format_ts),
            Some("2023-01-24T03:20:38.000Z".to_string())
        );
        assert_eq!(parse_ts("yesterday"), None);
        assert_eq!(parse_ts("2023-13-24"), None);
    }

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let start: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let clock = SimClock::new(Some(start), true);
        assert_eq!(clock.now(), start);
        let later = clock.advance(SignedDuration::from_mins(11));
        assert_eq!(format_ts(later), "2024-01-01T00:11:00.000Z");
        clock.set(start);
        assert_eq!(clock.now(), start);
        assert!(clock.is_frozen());
    }

    #[test]
    fn running_clock_keeps_offset() {
        let clock = SimClock::new(None, false);
        let before = clock.now();
        clock.advance(SignedDuration::from_hours(1));
        assert!(clock.now().duration_since(before) >= SignedDuration::from_hours(1));
    }
}
