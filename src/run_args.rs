//! Command-line flags of `meetings-operator run`.

use std::sync::Arc;
use std::time::Duration;

use crate::controller::runner::RunOptions;
use crate::controller::{SecretKey, Settings, parse_duration};
use crate::meetings::{ClientConfig, DEFAULT_BASE_URL, NoopObserver, RateLimit};

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| format!("{text:?} is not a duration such as 30s, 5m or 1h"))
}

/// Flags of the operator.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Namespaces to watch (repeat or comma-separate); all namespaces when empty.
    #[arg(long = "namespace", env = "WATCH_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Only manage objects matching this label selector.
    #[arg(long, env = "LABEL_SELECTOR")]
    pub label_selector: Option<String>,
    /// Concurrent reconciles per kind.
    #[arg(long, env = "CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,
    /// Base resync period (jittered by up to 10%); per object with the
    /// `meetings.vonage.com/resync-period` annotation.
    #[arg(long, env = "RESYNC_PERIOD", default_value = "5m", value_parser = duration)]
    pub resync_period: Duration,
    /// Meetings API base URL.
    #[arg(long, env = "MEETINGS_API_URL", default_value = DEFAULT_BASE_URL)]
    pub api_url: String,
    /// Meetings API requests per second, per application.
    #[arg(long, env = "API_RATE_LIMIT", default_value_t = 10.0)]
    pub rate_limit: f64,
    /// Burst of the rate limit.
    #[arg(long, env = "API_RATE_BURST", default_value_t = 10)]
    pub rate_burst: u32,
    /// Timeout of one Meetings API request.
    #[arg(long, env = "API_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub api_timeout: Duration,
    /// Rooms per page when listing.
    #[arg(long, env = "API_PAGE_SIZE", default_value_t = 100)]
    pub page_size: u32,
    /// Credentials Secret (NAMESPACE/NAME) for objects without credentialsRef.
    #[arg(long, env = "DEFAULT_CREDENTIALS")]
    pub default_credentials: Option<SecretKey>,
    /// How long a credentials Secret is trusted before it is read again.
    #[arg(long, env = "CREDENTIALS_RECHECK", default_value = "30s", value_parser = duration)]
    pub credentials_recheck: Duration,
}

impl RunArgs {
    /// The options the runner takes.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            namespaces: self
                .namespaces
                .iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
            label_selector: self.label_selector.clone(),
            settings: Settings {
                resync: self.resync_period,
                concurrency: self.concurrency,
                ..Settings::default()
            },
            client: ClientConfig {
                base_url: self.api_url.clone(),
                request_timeout: self.api_timeout,
                rate_limit: RateLimit {
                    per_second: self.rate_limit,
                    burst: self.rate_burst,
                },
                page_size: self.page_size,
                ..ClientConfig::default()
            },
            default_credentials: self.default_credentials.clone(),
            credentials_recheck: self.credentials_recheck,
            observer: Arc::new(NoopObserver),
        }
    }
}
