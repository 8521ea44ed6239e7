//! Command-line flags of `meetings-operator run`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::app::RunOptions;
use crate::callbacks::{CallbackOptions, DEFAULT_TOKEN_SECRET, LeaderRoute, Token};
use crate::controller::{Settings, parse_duration};
use crate::leader::LeaseConfig;
use crate::meetings::{ClientConfig, DEFAULT_BASE_URL, NoopObserver, RateLimit};
use crate::services::SecretKey;

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| format!("{text:?} is not a duration such as 30s, 5m or 1h"))
}

fn callback_token(text: &str) -> Result<Token, String> {
    Token::parse(text).map_err(|e| e.to_string())
}

/// Like [`duration`], and also milliseconds (`500ms`).
pub fn fine_duration(text: &str) -> Result<Duration, String> {
    match text.trim().strip_suffix("ms") {
        Some(millis) => millis
            .parse::<u64>()
            .ok()
            .filter(|m| *m > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| format!("{text:?} is not a duration such as 500ms, 5s or 1m")),
        None => duration(text),
    }
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
    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Elect a leader through a Lease so that only one replica reconciles
    /// (`--leader-election=false` to run the controllers unconditionally).
    #[arg(
        long,
        env = "LEADER_ELECTION",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub leader_election: bool,
    /// Name of the leader-election Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "meetings-operator")]
    pub lease_name: String,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease; the host name with a random
    /// suffix when unset.
    #[arg(long, env = "POD_NAME")]
    pub lease_identity: Option<String>,
    /// How long followers wait for a leader that stopped renewing (whole seconds).
    #[arg(long, env = "LEASE_DURATION", default_value = "15s", value_parser = duration)]
    pub lease_duration: Duration,
    /// How often the leader renews the Lease.
    #[arg(long, env = "LEASE_RENEW_INTERVAL", default_value = "5s", value_parser = fine_duration)]
    pub lease_renew_interval: Duration,
    /// How long the leader keeps trying to renew before it gives up and exits;
    /// must lie between the renew interval and the lease duration.
    #[arg(long, env = "LEASE_RENEW_DEADLINE", default_value = "10s", value_parser = fine_duration)]
    pub lease_renew_deadline: Duration,
    /// How often followers look at the Lease.
    #[arg(long, env = "LEASE_RETRY_PERIOD", default_value = "2s", value_parser = fine_duration)]
    pub lease_retry_period: Duration,
    /// Receive Meetings callbacks and show what happens in rooms in
    /// `status.live` (`--callbacks=false` to turn off).
    #[arg(
        long,
        env = "CALLBACKS",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub callbacks: bool,
    /// Address of the callback server.
    #[arg(long, env = "CALLBACK_ADDR", default_value = "0.0.0.0:8081")]
    pub callback_addr: SocketAddr,
    /// Base URL under which the Meetings API reaches the callback server;
    /// rooms with `operatorCallbacks` get URLs under it.
    #[arg(long, env = "CALLBACK_PUBLIC_URL")]
    pub callback_public_url: Option<String>,
    /// Token in the callback URLs (at least 16 URL-safe characters); when
    /// unset, one is generated and kept in --callback-token-secret.
    #[arg(long, env = "CALLBACK_TOKEN", hide_env_values = true, value_parser = callback_token)]
    pub callback_token: Option<Token>,
    /// Secret in the operator's namespace (--lease-namespace) keeping the
    /// generated callback token.
    #[arg(long, env = "CALLBACK_TOKEN_SECRET", default_value = DEFAULT_TOKEN_SECRET)]
    pub callback_token_secret: String,
    /// A Service without selector in the operator's namespace
    /// (--lease-namespace) that the Meetings API's callbacks arrive
    /// through: the replica that serves callbacks points the Service's
    /// EndpointSlice `<name>-leader` at its own pod (--pod-name, --pod-ip).
    #[arg(long, env = "CALLBACK_SERVICE")]
    pub callback_service: Option<String>,
    /// This pod's name (the downward API's metadata.name).
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// This pod's address (the downward API's status.podIP).
    #[arg(long, env = "POD_IP")]
    pub pod_ip: Option<IpAddr>,
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
            callbacks: self.callbacks.then(|| CallbackOptions {
                listen: self.callback_addr,
                public_url: self.callback_public_url.clone(),
                token: self.callback_token.clone(),
                token_secret: SecretKey {
                    namespace: self.lease_namespace.clone(),
                    name: self.callback_token_secret.clone(),
                },
                leader_route: self.leader_route(),
            }),
        }
    }

    /// Fails on flags that parse but cannot work together.
    pub fn check(&self) -> Result<(), String> {
        if self.callbacks
            && self.callback_service.is_some()
            && (self.pod_name.is_none() || self.pod_ip.is_none())
        {
            return Err(
                "--callback-service needs this pod's name and address: set POD_NAME and \
                        POD_IP (the downward API's metadata.name and status.podIP), or \
                        --pod-name and --pod-ip"
                    .into(),
            );
        }
        Ok(())
    }

    /// The callbacks Service to route to this replica, when one is named.
    fn leader_route(&self) -> Option<LeaderRoute> {
        Some(LeaderRoute {
            service: self.callback_service.clone()?,
            namespace: self.lease_namespace.clone(),
            pod_name: self.pod_name.clone()?,
            pod_ip: self.pod_ip?,
        })
    }

    /// The leader-election settings (not validated).
    pub fn lease_config(&self) -> LeaseConfig {
        let identity = self
            .lease_identity
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map_or_else(crate::leader::default_identity, str::to_owned);
        LeaseConfig {
            lease_duration: self.lease_duration,
            renew_interval: self.lease_renew_interval,
            renew_deadline: self.lease_renew_deadline,
            retry_period: self.lease_retry_period,
            ..LeaseConfig::new(&self.lease_name, &self.lease_namespace, identity)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(flags: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("run").chain(flags.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn leader_election_is_on_by_default_with_valid_timings() {
        let args = parse(&[]).unwrap();
        assert!(args.leader_election);
        assert_eq!(args.metrics_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(args.lease_name, "meetings-operator");
        let config = args.lease_config();
        assert_eq!(config.lease_duration, Duration::from_secs(15));
        assert_eq!(config.renew_interval, Duration::from_secs(5));
        assert_eq!(config.renew_deadline, Duration::from_secs(10));
        assert_eq!(config.retry_period, Duration::from_secs(2));
        assert!(!config.identity.is_empty());
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn leader_election_flags() {
        assert!(!parse(&["--leader-election=false"]).unwrap().leader_election);
        assert!(parse(&["--leader-election"]).unwrap().leader_election);
        assert!(parse(&["--leader-election=true"]).unwrap().leader_election);
        let args = parse(&[
            "--lease-name=op",
            "--lease-namespace=ops",
            "--lease-identity=pod-1",
            "--lease-duration=3s",
            "--lease-renew-interval=500ms",
            "--lease-renew-deadline=2s",
            "--lease-retry-period=250ms",
            "--metrics-addr=127.0.0.1:9000",
        ])
        .unwrap();
        let config = args.lease_config();
        assert_eq!(
            (
                config.name.as_str(),
                config.namespace.as_str(),
                config.identity.as_str()
            ),
            ("op", "ops", "pod-1")
        );
        assert_eq!(config.renew_interval, Duration::from_millis(500));
        assert_eq!(config.retry_period, Duration::from_millis(250));
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(args.metrics_addr.port(), 9000);
        assert!(parse(&["--lease-retry-period=0ms"]).is_err());
        assert!(parse(&["--lease-duration=500ms"]).is_err());
    }

    #[test]
    fn the_callbacks_service_is_routed_with_the_pods_name_and_address() {
        let args = parse(&[
            "--callbacks",
            "--lease-namespace=ops",
            "--callback-service=mo-callbacks",
            "--pod-name=mo-1",
            "--pod-ip=10.244.0.9",
        ])
        .unwrap();
        let route = args.options().callbacks.unwrap().leader_route.unwrap();
        assert_eq!(
            (
                route.service.as_str(),
                route.namespace.as_str(),
                route.pod_name.as_str()
            ),
            ("mo-callbacks", "ops", "mo-1")
        );
        assert_eq!(route.pod_ip, "10.244.0.9".parse::<IpAddr>().unwrap());
        assert!(args.check().is_ok());
        let unnamed = parse(&["--callbacks", "--callback-service=mo-callbacks"]).unwrap();
        assert!(unnamed.check().unwrap_err().contains("POD_IP"));
        let unrouted = parse(&["--callbacks"]).unwrap();
        assert!(unrouted.options().callbacks.unwrap().leader_route.is_none());
    }

    #[test]
    fn callbacks_are_off_by_default_and_configurable() {
        assert!(parse(&[]).unwrap().options().callbacks.is_none());
        let args = parse(&[
            "--callbacks",
            "--callback-addr=127.0.0.1:9443",
            "--callback-public-url=https://hooks.example.com",
            "--callback-token=0123456789abcdefXYZ",
            "--lease-namespace=ops",
        ])
        .unwrap();
        let callbacks = args.options().callbacks.unwrap();
        assert_eq!(callbacks.listen, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(
            callbacks.public_url.as_deref(),
            Some("https://hooks.example.com")
        );
        assert!(callbacks.token.unwrap().matches("0123456789abcdefXYZ"));
        assert_eq!(
            (
                callbacks.token_secret.namespace.as_str(),
                callbacks.token_secret.name.as_str()
            ),
            ("ops", DEFAULT_TOKEN_SECRET)
        );
        assert!(!format!("{args:?}").contains("0123456789abcdefXYZ"));
        assert!(parse(&["--callbacks", "--callback-token=short"]).is_err());
        let defaults = parse(&["--callbacks=true"]).unwrap();
        assert_eq!(defaults.callback_addr, "0.0.0.0:8081".parse().unwrap());
        assert!(defaults.options().callbacks.unwrap().token.is_none());
    }
}
