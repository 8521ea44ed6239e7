//! The naive design, measured against the same simulator: one GET per room
//! per period through the operator's client and rate limit, then the same
//! sweep with unbounded retries that ignore `Retry-After`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use meetings_operator::meetings::{
    ClientConfig, Credentials, MeetingsClient, RateLimit as ClientRateLimit,
};
use meetings_simulator::RunningSimulator;
use serde_json::{Value, json};

use crate::args::Args;
use crate::report::round;

/// One sweep of one GET per room.
pub struct Sweep {
    what: &'static str,
    /// When each successful read completed, seconds since the sweep began, in order.
    pub progress: Vec<f64>,
    pub reads: u64,
    attempts: u64,
    answers_429: u64,
    failed: u64,
    seconds: f64,
}

impl Sweep {
    /// The sweep that began at `started` and ended now: `results` says
    /// which rooms were read, the simulator's counters how.
    fn measured(
        what: &'static str,
        progress: Vec<f64>,
        sim: &RunningSimulator,
        results: &[bool],
        started: Instant,
    ) -> Self {
        let seconds = started.elapsed().as_secs_f64();
        let counters = sim.counters();
        Self {
            what,
            progress,
            reads: counters.operation_status("getRoom", 200),
            attempts: counters.operation("getRoom"),
            answers_429: counters.operation_status("getRoom", 429),
            failed: results.iter().filter(|ok| !**ok).count() as u64,
            seconds,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "design": self.what,
            "reads_per_period": self.reads,
            "attempts": self.attempts,
            "api_429": self.answers_429,
            "failed": self.failed,
            "sweep_s": round(self.seconds, 2),
        })
    }
}

/// The naive sweeps: with the client's rate limit, and (unless `--no-storm`)
/// with unbounded retries.
pub struct Baselines {
    pub polite: Sweep,
    pub storm: Option<Sweep>,
}

/// Sweeps every room the simulator holds, as the naive design would each
/// period.
pub async fn naive_baselines(
    args: &Args,
    sim: &RunningSimulator,
    application_id: &str,
    private_key_pem: &str,
) -> Result<Baselines, String> {
    let ids: Vec<String> = sim
        .rooms(application_id)
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    let credentials = Credentials::new(application_id, private_key_pem.as_bytes())
        .map_err(|e| format!("credentials: {e}"))?;
    let client = MeetingsClient::new(
        ClientConfig {
            base_url: sim.base_url(),
            rate_limit: ClientRateLimit {
                per_second: args.client_rate(),
                burst: args.client_burst(),
            },
            page_size: args.page_size,
            ..ClientConfig::default()
        },
        credentials,
    )
    .map_err(|e| format!("client: {e}"))?;
    // Let the server's bucket refill after the previous phase.
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!(
        "bench: naive baseline: one GET per room ({} rooms) at {}/s",
        ids.len(),
        args.client_rate()
    );
    sim.reset_counters();
    let started = Instant::now();
    let mut progress = Vec::with_capacity(ids.len());
    let results: Vec<bool> = futures::stream::iter(ids.iter().map(|id| {
        let client = &client;
        async move { client.get_room(id).await.is_ok() }
    }))
    .buffer_unordered(usize::from(args.concurrency().max(1)))
    .map(|ok| {
        if ok {
            progress.push(started.elapsed().as_secs_f64());
        }
        ok
    })
    .collect()
    .await;
    let polite = Sweep::measured(
        "one GET per room per period, client rate limit, Retry-After honoured",
        progress,
        sim,
        &results,
        started,
    );
    let storm = if args.no_storm {
        None
    } else {
        tokio::time::sleep(Duration::from_secs(2)).await;
        eprintln!(
            "bench: naive baseline: no client limit, unbounded retries every {} ms ignoring Retry-After",
            args.storm_retry_ms
        );
        let token = sim
            .token(application_id)
            .map_err(|e| format!("minting a token: {e}"))?;
        let http = reqwest::Client::new();
        let base = sim.base_url();
        let pause = Duration::from_millis(args.storm_retry_ms);
        sim.reset_counters();
        let started = Instant::now();
        let results: Vec<bool> = futures::stream::iter(ids.iter().map(|id| {
            let (http, token, base) = (&http, &token, &base);
            async move {
                loop {
                    let answer = http
                        .get(format!("{base}/rooms/{id}"))
                        .bearer_auth(token)
                        .send()
                        .await;
                    match answer.map(|r| r.status().as_u16()) {
                        Ok(200) => return true,
                        Ok(429) => tokio::time::sleep(pause).await,
                        _ => return false,
                    }
                }
            }
        }))
        .buffer_unordered(usize::from(args.concurrency().max(1)))
        .collect()
        .await;
        Some(Sweep::measured(
            "one GET per room per period, no client limit, retried every few ms regardless of Retry-After",
            Vec::new(),
            sim,
            &results,
            started,
        ))
    };
    Ok(Baselines { polite, storm })
}
