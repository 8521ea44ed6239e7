//! Settings of one leader-election candidate and how its identity is chosen.

use std::time::Duration;

use rand::Rng;

/// Default lease duration: how long followers wait for a silent leader.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// Default period between two renewals by the leader.
pub const DEFAULT_RENEW_INTERVAL: Duration = Duration::from_secs(5);
/// Default time after the last successful renewal at which the leader gives up.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// Default period between two attempts of a follower (and between renewal retries).
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);

/// How one candidate takes part in the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Name of the `coordination.k8s.io/v1` Lease.
    pub name: String,
    /// Namespace of the Lease.
    pub namespace: String,
    /// This candidate's identity, written to `holderIdentity`; unique per process.
    pub identity: String,
    /// Written to `leaseDurationSeconds`: followers take over when the leader
    /// has not renewed for this long (whole seconds).
    pub lease_duration: Duration,
    /// The leader renews this long after its last successful renewal.
    pub renew_interval: Duration,
    /// The leader considers itself deposed when it could not renew for this
    /// long; shorter than `lease_duration`, so it stops before anyone else can start.
    pub renew_deadline: Duration,
    /// Followers look at the Lease this often; failed renewals are retried this often.
    pub retry_period: Duration,
}

/// A [`LeaseConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required text is empty.
    #[error("the lease {0} is empty")]
    Empty(&'static str),
    /// The lease duration is not a whole, positive number of seconds that fits the Lease.
    #[error("the lease duration must be a whole number of seconds between 1 and {max}, not {0:?}", max = i32::MAX)]
    LeaseDuration(Duration),
    /// The timings are not ordered `0 < renew interval < renew deadline < lease duration`.
    #[error(
        "lease timings must satisfy 0 < renew interval ({renew_interval:?}) < renew deadline \
         ({renew_deadline:?}) < lease duration ({lease_duration:?})"
    )]
    Order {
        /// The configured renew interval.
        renew_interval: Duration,
        /// The configured renew deadline.
        renew_deadline: Duration,
        /// The configured lease duration.
        lease_duration: Duration,
    },
    /// The retry period is zero.
    #[error("the lease retry period must be positive")]
    RetryPeriod,
}

impl LeaseConfig {
    /// A configuration with the default timings.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_interval: DEFAULT_RENEW_INTERVAL,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// Checks the configuration can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::Empty("name"));
        }
        if self.namespace.is_empty() {
            return Err(ConfigError::Empty("namespace"));
        }
        if self.identity.is_empty() {
            return Err(ConfigError::Empty("identity"));
        }
        self.duration_seconds()?;
        if self.renew_interval.is_zero()
            || self.renew_interval >= self.renew_deadline
            || self.renew_deadline >= self.lease_duration
        {
            return Err(ConfigError::Order {
                renew_interval: self.renew_interval,
                renew_deadline: self.renew_deadline,
                lease_duration: self.lease_duration,
            });
        }
        if self.retry_period.is_zero() {
            return Err(ConfigError::RetryPeriod);
        }
        Ok(())
    }

    /// The lease duration as written to `leaseDurationSeconds`.
    pub(crate) fn duration_seconds(&self) -> Result<i32, ConfigError> {
        let d = self.lease_duration;
        if d.subsec_nanos() != 0 {
            return Err(ConfigError::LeaseDuration(d));
        }
        i32::try_from(d.as_secs())
            .ok()
            .filter(|s| *s > 0)
            .ok_or(ConfigError::LeaseDuration(d))
    }
}

/// This process's identity: `$POD_NAME` when set, else the host name with a
/// random suffix (so two processes on one host differ).
pub fn default_identity() -> String {
    identity_from(std::env::var("POD_NAME").ok(), hostname(), &random_suffix())
}

fn identity_from(pod_name: Option<String>, hostname: Option<String>, suffix: &str) -> String {
    if let Some(pod) = pod_name
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
    {
        return pod;
    }
    let host = hostname
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "meetings-operator".to_owned());
    format!("{host}-{suffix}")
}

fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LeaseConfig {
        LeaseConfig::new("lease", "ns", "me")
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(config().validate(), Ok(()));
        assert_eq!(config().duration_seconds(), Ok(15));
    }

    #[test]
    fn empty_texts_are_refused() {
        let mut c = config();
        c.identity.clear();
        assert_eq!(c.validate(), Err(ConfigError::Empty("identity")));
        let mut c = config();
        c.name.clear();
        assert_eq!(c.validate(), Err(ConfigError::Empty("name")));
        let mut c = config();
        c.namespace.clear();
        assert_eq!(c.validate(), Err(ConfigError::Empty("namespace")));
    }

    #[test]
    fn timings_must_be_ordered() {
        let mut c = config();
        c.renew_deadline = c.lease_duration;
        assert!(matches!(c.validate(), Err(ConfigError::Order { .. })));
        let mut c = config();
        c.renew_interval = c.renew_deadline;
        assert!(matches!(c.validate(), Err(ConfigError::Order { .. })));
        let mut c = config();
        c.renew_interval = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::Order { .. })));
        let mut c = config();
        c.retry_period = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::RetryPeriod));
    }

    #[test]
    fn lease_duration_is_whole_seconds() {
        let mut c = config();
        c.lease_duration = Duration::from_millis(15_500);
        assert!(matches!(c.validate(), Err(ConfigError::LeaseDuration(_))));
        c.lease_duration = Duration::from_secs(u64::from(u32::MAX));
        assert!(matches!(c.validate(), Err(ConfigError::LeaseDuration(_))));
    }

    #[test]
    fn identity_prefers_the_pod_name() {
        assert_eq!(
            identity_from(Some("op-7d9f-x2".into()), Some("node".into()), "abc"),
            "op-7d9f-x2"
        );
        assert_eq!(
            identity_from(Some("  ".into()), Some("node\n".into()), "abc"),
            "node-abc"
        );
        assert_eq!(identity_from(None, None, "abc"), "meetings-operator-abc");
    }

    #[test]
    fn default_identities_differ() {
        // Without POD_NAME two processes on one host must not share an identity.
        if std::env::var_os("POD_NAME").is_none() {
            assert_ne!(default_identity(), default_identity());
        }
        assert_eq!(random_suffix().len(), 6);
    }
}
