//! Operator-wide behaviour of the controllers: resync period, jitter, concurrency.

use std::time::Duration;

use rand::Rng;

use crate::crd::annotations::RESYNC_PERIOD;

/// Operator-wide behaviour.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base period between two observations of a remote object.
    pub resync: Duration,
    /// Fraction of the period added at random, so resyncs spread out.
    pub resync_jitter: f64,
    /// Concurrent reconciles per kind (0 = unlimited).
    pub concurrency: u16,
    /// Name used as the reporting controller of events.
    pub controller_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(300),
            resync_jitter: 0.1,
            concurrency: 8,
            controller_name: "meetings-operator".to_owned(),
        }
    }
}

impl Settings {
    /// The period of an object's resync annotation, if it has a valid one.
    pub fn own_period(&self, annotations: Option<&Annotations>) -> Option<Duration> {
        annotations
            .and_then(|a| a.get(RESYNC_PERIOD))
            .and_then(|v| parse_duration(v))
    }

    /// The jittered delay until an object with its own period annotation is
    /// observed again on a timer of its own. Objects without one hold no
    /// timer: the resync cycle observes them (see `room::resync` and
    /// `theme::Themes::read_due`).
    pub fn own_resync(&self, annotations: Option<&Annotations>) -> Option<Duration> {
        self.own_period(annotations)
            .map(|period| self.jittered(period))
    }

    /// The jittered length of a resync cycle.
    pub fn cycle_period(&self) -> Duration {
        self.jittered(self.resync)
    }

    /// How far ahead a periodic listing looks for rooms about to expire:
    /// past the next listing, whatever its jitter (two of the longest cycles).
    pub fn expiry_horizon(&self) -> Duration {
        self.resync.mul_f64(1.0 + self.jitter()) * 2
    }

    fn jittered(&self, base: Duration) -> Duration {
        base + base.mul_f64(self.jitter() * rand::rng().random::<f64>())
    }

    /// The largest fraction of a period that jitter adds, within 0 to 1.
    fn jitter(&self) -> f64 {
        self.resync_jitter.clamp(0.0, 1.0)
    }
}

/// An object's annotations.
type Annotations = std::collections::BTreeMap<String, String>;

/// Parses `90`, `90s`, `15m`, `2h` into a duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => value,
        "m" => value.checked_mul(60)?,
        "h" => value.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "0s", "5d", "m", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    /// A 100 s resync with the default 10 % jitter.
    fn every_100s() -> Settings {
        Settings {
            resync: Duration::from_secs(100),
            resync_jitter: 0.1,
            ..Settings::default()
        }
    }

    #[test]
    fn cycles_are_jittered_and_only_annotated_objects_have_a_timer_of_their_own() {
        let settings = every_100s();
        let periods: Vec<Duration> = (0..200).map(|_| settings.cycle_period()).collect();
        assert!(
            periods
                .iter()
                .all(|d| *d >= Duration::from_secs(100) && *d <= Duration::from_secs(110))
        );
        assert!(periods.iter().any(|d| *d != periods[0]), "jittered");
        assert_eq!(settings.own_resync(None), None);
        let annotations =
            std::collections::BTreeMap::from([(RESYNC_PERIOD.to_owned(), "10s".to_owned())]);
        let own = settings.own_resync(Some(&annotations)).expect("annotated");
        assert!(own >= Duration::from_secs(10) && own <= Duration::from_secs(11));
        assert_eq!(
            settings.own_period(Some(&annotations)),
            Some(Duration::from_secs(10))
        );
        let invalid =
            std::collections::BTreeMap::from([(RESYNC_PERIOD.to_owned(), "soon".to_owned())]);
        assert_eq!(settings.own_resync(Some(&invalid)), None);
    }

    #[test]
    fn the_expiry_horizon_spans_two_of_the_longest_cycles_with_jitter_clamped() {
        let settings = every_100s();
        assert_eq!(settings.expiry_horizon(), Duration::from_secs(220));
        let wild = Settings {
            resync_jitter: 5.0,
            ..settings
        };
        assert_eq!(wild.expiry_horizon(), Duration::from_secs(400));
        assert!((0..200).all(|_| wild.cycle_period() * 2 <= wild.expiry_horizon()));
    }
}
