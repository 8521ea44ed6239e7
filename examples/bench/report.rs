//! The report: every target against its bound (with the operator's CPU
//! beside it) and the figures behind them as JSON, and the picture of the
//! run.

use std::collections::BTreeMap;
use std::time::Duration;

use meetings_simulator::CountersSnapshot;
use serde_json::{Value, json};

use crate::apiserver::{reads_k8s, writes};
use crate::args::Args;
use crate::baseline::Sweep;
use crate::bounds::{
    FIRST_CALL_VS_LIST, REOBSERVE_SLACK, bound_curve, client_bound, convergence_ratio,
};
use crate::plot;
use crate::run::Measured;

/// All Ready against the lower bound.
fn all_ready_vs_bound(m: &Measured) -> f64 {
    m.convergence.all_ready.as_secs_f64() / m.setup.bound.as_secs_f64()
}

/// The report, as `report.json` holds it.
pub fn report(args: &Args, m: &Measured) -> Value {
    let (setup, convergence, steady, restart, harness) =
        (&m.setup, &m.convergence, &m.steady, &m.restart, &m.harness);
    let n_rooms = setup.rooms.len();
    let n = n_rooms as f64;
    let n_themes = setup.themes.len();
    let listings = steady.listings;
    let listings_f = f64::from(listings.max(1));
    let benchmark_creates = (n_rooms + n_themes) as f64;
    let converge_writes = writes(&convergence.kubernetes);
    let operator_converge_writes = converge_writes.total - benchmark_creates;
    let status_writes = converge_writes
        .by_kind
        .iter()
        .filter(|(k, _)| k.ends_with("meetingrooms/status"))
        .map(|(_, v)| v)
        .sum::<f64>();
    let converge_calls = &convergence.calls;
    let room_creates = converge_calls.operation("createRoom");
    let theme_creates = converge_calls.operation("createTheme");
    let other_api_writes = api_writes(converge_calls)
        .saturating_sub(room_creates.min(n_rooms as u64))
        .saturating_sub(theme_creates.min(n_themes as u64));
    let answers_429 = converge_calls.by_status.get(&429).copied().unwrap_or(0);
    let page_reads = args.pages() as f64;
    let steady_calls = &steady.calls;
    let steady_page_reads = steady_calls.operation("getRooms") as f64;
    let steady_reads_per_period = reads(steady_calls) as f64 / listings_f;
    let steady_theme_reads_per_period =
        reads(steady_calls) as f64 / listings_f - steady_page_reads / listings_f;
    let steady_writes = api_writes(steady_calls);
    let steady_k8s_writes = writes(&steady.kubernetes);
    let naive_reads_per_period = m.naive.as_ref().map(|b| b.polite.reads as f64);
    let ratio = all_ready_vs_bound(m);
    let ratio_limit = convergence_ratio(n_rooms);
    let (cpu_converge, cpu_to_ready, cpu_steady) =
        (convergence.cpu, convergence.cpu_to_ready, steady.cpu);
    let mib = |kib: u64| round(kib as f64 / 1024.0, 1);
    let rss_bound = args.rss_bound_mib();
    let rss_converge = steady.converge_hwm_kib as f64 / 1024.0;
    let rss_steady = steady.peak_rss_mib;
    let rss_startup = restart.stats.hwm_kib as f64 / 1024.0;
    let list_time = restart.list.median();
    let first_api_call = restart.first_api_call;
    let cpu_at_first_call = restart.cpu_at_first_call;
    let cpu_at_reobserved = restart.cpu_at_reobserved;
    let first_call_ratio = first_api_call.map(|d| d.as_secs_f64() / list_time.as_secs_f64());
    let reobserve = first_api_call.map(|first| restart.all_reobserved.saturating_sub(first));
    let listing = setup.listing;
    let reobserve_ratio = reobserve.map(|d| d.as_secs_f64() / listing.as_secs_f64().max(1e-3));
    let (all_ready, bound) = (convergence.all_ready, setup.bound);
    let mut calls_per_room = serde_json::Map::new();
    for (op_id, count) in &converge_calls.by_operation {
        calls_per_room.insert(op_id.clone(), json!(round(*count as f64 / n, 4)));
    }
    let per_room = &convergence.per_room;
    let ready_times = per_room.ready_times();

    let targets = vec![
        Target {
            name: "apply → all Ready vs (N + T − burst)/rate + latency",
            measured: secs(all_ready),
            unit: "s",
            bound: round(bound.as_secs_f64() * ratio_limit, 3),
            ratio: Some(round(ratio, 3)),
            ratio_limit: Some(ratio_limit),
            met: ratio <= ratio_limit,
            cpu_s: Some(round(cpu_to_ready, 2)),
        },
        Target::count(
            "429 answers during convergence",
            answers_429 as f64,
            0.0,
            answers_429 == 0,
        ),
        Target::count(
            "room creates per room (exactly 1)",
            round(room_creates as f64 / n, 4),
            1.0,
            room_creates == n_rooms as u64,
        ),
        Target::count(
            "other API writes during convergence",
            other_api_writes as f64,
            0.0,
            other_api_writes == 0 && theme_creates == n_themes as u64,
        ),
        Target::count(
            "room writes after Ready, max per room",
            per_room.after_ready_max as f64,
            1.0,
            per_room.after_ready_max <= 1,
        ),
        Target::peak_rss(
            "peak RSS: convergence (to settled)",
            rss_converge,
            rss_bound,
            Some(round(cpu_converge, 2)),
        ),
        Target::peak_rss(
            "peak RSS: steady state",
            rss_steady,
            rss_bound,
            Some(round(cpu_steady / listings_f, 3)),
        ),
        Target::peak_rss(
            "peak RSS: start-up (to re-observed + 2 s)",
            rss_startup,
            rss_bound,
            Some(round(restart.stats.cpu_s, 2)),
        ),
        Target {
            name: "steady: API reads per period vs pages + themes",
            measured: round(steady_reads_per_period, 2),
            unit: "",
            bound: page_reads + n_themes as f64,
            ratio: Some(round(
                steady_reads_per_period / (page_reads + n_themes as f64).max(1.0),
                3,
            )),
            ratio_limit: Some(1.0),
            met: listings > 0
                && steady_page_reads == page_reads * f64::from(listings)
                && steady_theme_reads_per_period <= n_themes as f64,
            cpu_s: Some(round(cpu_steady / listings_f, 3)),
        },
        Target::count(
            "steady: API writes",
            steady_writes as f64,
            0.0,
            steady_writes == 0,
        ),
        Target::count(
            "steady: Kubernetes writes",
            steady_k8s_writes.total,
            0.0,
            steady_k8s_writes.total == 0.0 && steady.watched_writes == 0,
        ),
        Target::time_within(
            "start-up: first API call vs plain LIST of the rooms",
            first_api_call,
            first_call_ratio,
            list_time,
            FIRST_CALL_VS_LIST,
            cpu_at_first_call.map(|c| round(c, 2)),
        ),
        Target::time_within(
            "start-up: all rooms re-observed after the first call vs pages × latency",
            reobserve,
            reobserve_ratio,
            listing,
            REOBSERVE_SLACK,
            Some(round(cpu_at_reobserved, 2)),
        ),
    ];

    json!({
        "command": command_line(),
        "build": args.build_name(),
        "parameters": {
            "rooms": n_rooms,
            "namespaces": setup.namespaces.len(),
            "themes": n_themes,
            "latency_ms": args.latency_ms,
            "server_rate_per_s": args.rate_limit,
            "server_burst": args.server_burst(),
            "client_rate_per_s": args.client_rate(),
            "client_burst": args.client_burst(),
            "page_size": args.page_size,
            "resync_s": args.resync_secs(),
            "periods": args.periods,
            "concurrency": args.concurrency(),
            "apply_concurrency": args.apply_concurrency(),
            "rss_bound_mib": rss_bound,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        },
        "targets": targets.iter().map(Target::to_json).collect::<Vec<_>>(),
        "convergence": {
            "operator_ready_empty_s": secs(convergence.operator_ready_empty),
            "warm_up_first_create_s": setup.warm_up.iter().cloned().collect::<BTreeMap<_, _>>(),
            "apply_s": secs(convergence.apply_time),
            "apply_rooms_per_s": round(n / convergence.apply_time.as_secs_f64().max(1e-3), 1),
            "apply_longer_than_bound": convergence.apply_time > bound,
            "all_ready_s": secs(all_ready),
            "lower_bound_s": secs(bound),
            "lower_bound_formula": "(rooms + themes - server_burst) / server_rate + latency",
            "lower_bound_with_client_burst_s": secs(client_bound(args, n_themes, setup.latency)),
            "ratio": round(ratio, 3),
            "ratio_target": ratio_limit,
            "operator_cpu_s_to_all_ready": round(cpu_to_ready, 2),
            "host_cpu_busy_fraction": round(convergence.host_busy, 3),
            "time_to_ready_p50_s": percentile(&ready_times, 0.50).map(secs),
            "time_to_ready_p99_s": percentile(&ready_times, 0.99).map(secs),
            "time_to_ready_max_s": percentile(&ready_times, 1.0).map(secs),
            "api_calls_total": converge_calls.total,
            "api_calls_per_room": Value::Object(calls_per_room),
            "api_calls_by_operation": converge_calls.by_operation,
            "api_answers_by_status": status_map(converge_calls),
            "api_429": answers_429,
            "api_room_creates_per_room": round(room_creates as f64 / n, 4),
            "api_theme_creates": theme_creates,
            "api_other_writes": other_api_writes,
            "kubernetes_writes_total": converge_writes.total,
            "kubernetes_writes_by_operator": operator_converge_writes,
            "kubernetes_writes_by_operator_per_room": round(operator_converge_writes / n, 3),
            "kubernetes_room_status_writes_per_room": round(status_writes / n, 3),
            "kubernetes_writes": converge_writes.by_kind,
            "kubernetes_reads": reads_k8s(&convergence.kubernetes),
            "room_writes_seen_per_room_max": per_room.max_changes,
            "room_writes_seen_after_ready_total": per_room.after_ready_total,
            "room_writes_seen_after_ready_per_room_max": per_room.after_ready_max,
            "first_create_s": convergence.timeline.first_create.map(secs),
            "last_create_s": convergence.timeline.last_create.map(secs),
            "creates_by_second": convergence.timeline.per_second,
            "diagnostics": {
                "room_reconciles": convergence.operator_metrics.sum("meetings_operator_reconciles_total", "kind=\"MeetingRoom\""),
                "theme_reconciles": convergence.operator_metrics.sum("meetings_operator_reconciles_total", "kind=\"MeetingTheme\""),
                "room_reconcile_mean_s": convergence.operator_metrics.mean("meetings_operator_reconcile_duration_seconds", "kind=\"MeetingRoom\"").map(|v| round(v, 4)),
                "rate_limiter_wait_mean_s": convergence.operator_metrics.mean("meetings_operator_rate_limiter_wait_seconds", "").map(|v| round(v, 4)),
                "create_room_call_mean_s": convergence.operator_metrics.mean("meetings_operator_api_request_duration_seconds", "operation=\"createRoom\"").map(|v| round(v, 4)),
                "kubernetes_write_mean_s": convergence.kubernetes_write_latency,
            },
        },
        "steady_state": {
            "window_s": secs(steady.window),
            "listings": listings,
            "period_s": round(steady.window.as_secs_f64() / listings_f, 2),
            "api_reads_per_period": round(steady_reads_per_period, 2),
            "api_room_page_reads_per_listing": round(steady_page_reads / listings_f, 2),
            "api_theme_reads_per_period": round(steady_theme_reads_per_period, 2),
            "page_reads_per_listing": page_reads,
            "api_writes": steady_writes,
            "api_calls_by_operation": steady_calls.by_operation,
            "api_answers_by_status": status_map(steady_calls),
            "kubernetes_writes": steady_k8s_writes.by_kind,
            "kubernetes_writes_total": steady_k8s_writes.total,
            "kubernetes_reads_per_period": round(reads_k8s(&steady.kubernetes).values().sum::<f64>() / listings_f, 2),
            "kubernetes_reads": reads_k8s(&steady.kubernetes),
            "room_writes_seen": steady.watched_writes,
            "naive_reads_per_period": naive_reads_per_period,
            "reads_vs_naive": naive_reads_per_period.map(|naive| round(steady_reads_per_period / naive, 4)),
        },
        "footprint": {
            "rss_bound_mib": rss_bound,
            "peak_rss_convergence_mib": round(rss_converge, 1),
            "peak_rss_steady_mib": round(rss_steady, 1),
            "peak_rss_steady_from": if steady.peak_from_hwm { "VmHWM after clear_refs" } else { "RSS sampled every 100 ms" },
            "peak_rss_startup_mib": round(rss_startup, 1),
            "rss_at_all_ready_mib": mib(convergence.rss_at_ready_kib),
            "rss_steady_end_mib": mib(steady.rss_end_kib),
            "cpu_s_to_all_ready": round(cpu_to_ready, 2),
            "cpu_s_convergence": round(cpu_converge, 2),
            "cpu_s_steady": round(cpu_steady, 2),
            "cpu_s_steady_per_period": round(cpu_steady / listings_f, 3),
            "log_warnings": steady.log.warnings,
            "log_errors": steady.log.errors,
        },
        "startup": {
            "list": {
                "how": "Api::<MeetingRoom>::all().list as kube-runtime's watcher does its initial list: limit 500, resourceVersion 0 (NotOlderThan), following continue tokens; median of 3",
                "items": restart.list.items,
                "pages": restart.list.pages,
                "runs_s": restart.list.runs.iter().copied().map(secs).collect::<Vec<_>>(),
                "median_s": secs(list_time),
                "unpaged_consistent_s": secs(restart.list.unpaged),
            },
            "to_caches_synced_s": secs(restart.caches_synced),
            "to_first_api_call_s": first_api_call.map(secs),
            "first_api_call_vs_list": first_call_ratio.map(|r| round(r, 3)),
            "cpu_s_to_first_api_call": cpu_at_first_call.map(|c| round(c, 2)),
            "to_first_reconcile_done_s": restart.log.first_reconciled.map(secs),
            "to_all_rooms_reobserved_s": secs(restart.all_reobserved),
            "reobserved_after_first_call_s": reobserve.map(secs),
            "listing_time_s": secs(listing),
            "reobserve_vs_listing": reobserve_ratio.map(|r| round(r, 3)),
            "cpu_s_to_all_reobserved": round(cpu_at_reobserved, 2),
            "api_calls_by_operation": restart.calls.by_operation,
            "api_calls_total": restart.calls.total,
            "kubernetes_writes": writes(&restart.kubernetes).by_kind,
            "room_writes_seen": restart.watched_writes,
            "peak_rss_mib": round(rss_startup, 1),
            "cpu_s": round(restart.stats.cpu_s, 2),
            "log_warnings": restart.log.warnings,
            "log_errors": restart.log.errors,
        },
        "naive": m.naive.as_ref().map(|b| json!({
            "polite": b.polite.to_json(),
            "unbounded_retries": b.storm.as_ref().map(Sweep::to_json),
        })),
        "harness": {
            "bench_peak_rss_mib": mib(harness.bench_peak_rss_kib),
            "bench_cpu_s_to_all_ready": round(harness.bench_cpu_to_ready, 2),
            "bench_cpu_s_total": round(harness.bench_cpu_total, 2),
            "host_cpu_busy_fraction_run": round(harness.host_busy_run, 3),
        },
    })
}

/// The picture of the run: rooms Ready against the bound and the naive
/// design, and the operator's RSS across the phases.
pub fn picture(args: &Args, m: &Measured) -> plot::Plot {
    let (setup, convergence) = (&m.setup, &m.convergence);
    let n_rooms = setup.rooms.len();
    let n_themes = setup.themes.len();
    let (all_ready, bound) = (convergence.all_ready, setup.bound);
    let ratio = all_ready_vs_bound(m);
    let ratio_limit = convergence_ratio(n_rooms);
    let cpu_to_ready = convergence.cpu_to_ready;
    plot::Plot {
        title: format!(
            "meetings-operator: {n_rooms} rooms, {} namespaces, {n_themes} themes ({} build)",
            setup.namespaces.len(),
            args.build_name()
        ),
        subtitle: format!(
            "API latency {} ms, server {}/s burst {}, client {}/s burst {}; all Ready {:.1} s = {:.3} × bound {:.1} s; operator CPU {:.1} s",
            args.latency_ms,
            args.rate_limit,
            args.server_burst(),
            args.client_rate(),
            args.client_burst(),
            all_ready.as_secs_f64(),
            ratio,
            bound.as_secs_f64(),
            cpu_to_ready
        ),
        rooms: n_rooms as u64,
        ready: m
            .samples
            .iter()
            .filter(|s| s.t <= all_ready.as_secs_f64() + 1.0)
            .map(|s| (s.t, s.ready as f64))
            .collect(),
        creates: convergence.timeline.points.clone(),
        bound: bound_curve(args, n_themes, setup.latency),
        bound_deadline: bound.as_secs_f64() * ratio_limit,
        ratio_limit,
        naive: m
            .naive
            .as_ref()
            .map(|b| {
                b.polite
                    .progress
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (*t, (i + 1) as f64))
                    .collect()
            })
            .unwrap_or_default(),
        rss: m
            .samples
            .iter()
            .filter_map(|s| s.rss_kib.map(|kib| (s.pid, s.t, kib as f64 / 1024.0)))
            .collect(),
        phases: m.phases.clone(),
        rss_bound_mib: args.rss_bound_mib(),
    }
}

/// One target, measured in this run.
struct Target {
    name: &'static str,
    measured: f64,
    unit: &'static str,
    /// The bound on `measured` (for a ratio target, the ratio limit times
    /// its reference).
    bound: f64,
    ratio: Option<f64>,
    ratio_limit: Option<f64>,
    met: bool,
    /// The operator's CPU seconds over what the target measures.
    cpu_s: Option<f64>,
}

impl Target {
    /// A count against a bound, with no ratio and no CPU of its own.
    fn count(name: &'static str, measured: f64, bound: f64, met: bool) -> Self {
        Self {
            name,
            measured,
            unit: "",
            bound,
            ratio: None,
            ratio_limit: None,
            met,
            cpu_s: None,
        }
    }

    /// A time (`None`: never seen) against `limit` times `reference`, with
    /// its `ratio` to the reference.
    fn time_within(
        name: &'static str,
        measured: Option<Duration>,
        ratio: Option<f64>,
        reference: Duration,
        limit: f64,
        cpu_s: Option<f64>,
    ) -> Self {
        Self {
            name,
            measured: measured.map_or(f64::NAN, secs),
            unit: "s",
            bound: round(reference.as_secs_f64() * limit, 3),
            ratio: ratio.map(|r| round(r, 3)),
            ratio_limit: Some(limit),
            met: ratio.is_some_and(|r| r <= limit),
            cpu_s,
        }
    }

    /// A phase's peak RSS in MiB against the bound, with the operator's CPU
    /// over that phase.
    fn peak_rss(name: &'static str, mib: f64, bound: f64, cpu_s: Option<f64>) -> Self {
        Self {
            name,
            measured: round(mib, 1),
            unit: "MiB",
            bound,
            ratio: Some(round(mib / bound, 3)),
            ratio_limit: Some(1.0),
            met: mib <= bound,
            cpu_s,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "target": self.name,
            // Counts as integers; + 0.0 turns a difference's -0.0 into 0.
            "measured": if !self.measured.is_finite() {
                Value::Null
            } else if self.measured.fract() == 0.0 && self.measured.abs() < 1e15 {
                json!(self.measured as i64)
            } else {
                json!(self.measured + 0.0)
            },
            "unit": self.unit,
            "bound": if self.bound.fract() == 0.0 { json!(self.bound as i64) } else { json!(self.bound) },
            "ratio": self.ratio,
            "ratio_limit": self.ratio_limit,
            "met": self.met,
            "operator_cpu_s": self.cpu_s,
        })
    }
}

/// The command that reproduces the run.
fn command_line() -> String {
    let mut words = vec!["bash scripts/bench.sh".to_owned()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

/// Seconds, to the millisecond.
pub fn secs(d: Duration) -> f64 {
    round(d.as_secs_f64(), 3)
}

/// `value` rounded to `digits` decimals.
pub fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// The `q` quantile of `sorted` (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Answers by HTTP status.
fn status_map(counters: &CountersSnapshot) -> BTreeMap<String, u64> {
    counters
        .by_status
        .iter()
        .map(|(status, count)| (status.to_string(), *count))
        .collect()
}

/// Meetings API reads: every `get*` operation.
fn reads(counters: &CountersSnapshot) -> u64 {
    counters
        .by_operation
        .iter()
        .filter(|(op, _)| op.starts_with("get"))
        .map(|(_, count)| count)
        .sum()
}

/// Meetings API writes: everything else (create, update, delete, finalize, uploads).
fn api_writes(counters: &CountersSnapshot) -> u64 {
    counters.total - reads(counters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(measured: f64, bound: f64) -> Value {
        Target {
            name: "t",
            measured,
            unit: "",
            bound,
            ratio: None,
            ratio_limit: None,
            met: true,
            cpu_s: None,
        }
        .to_json()
    }

    #[test]
    fn whole_figures_are_integers_and_no_figure_is_negative_zero() {
        assert_eq!(target(3.0, 64.0)["measured"], json!(3));
        assert_eq!(target(3.0, 64.0)["bound"], json!(64));
        assert_eq!(target(-0.0, 0.0)["measured"].to_string(), "0");
        assert_eq!(target(1.25, 1.1)["measured"], json!(1.25));
        assert_eq!(target(1.25, 1.1)["bound"], json!(1.1));
        assert_eq!(target(f64::NAN, 1.0)["measured"], Value::Null);
    }

    #[test]
    fn a_peak_rss_is_met_up_to_its_bound_and_shown_as_a_ratio_of_it() {
        let under = Target::peak_rss("p", 41.66, 64.0, Some(0.5)).to_json();
        assert_eq!(under["measured"], json!(41.7));
        assert_eq!(under["unit"], json!("MiB"));
        assert_eq!(under["ratio"], json!(0.651));
        assert_eq!(under["met"], json!(true));
        assert_eq!(under["operator_cpu_s"], json!(0.5));
        assert_eq!(
            Target::peak_rss("p", 64.01, 64.0, None).to_json()["met"],
            json!(false)
        );
    }

    #[test]
    fn a_time_is_met_within_its_limit_and_unseen_is_not_met() {
        let seen = Target::time_within(
            "t",
            Some(Duration::from_millis(1_200)),
            Some(1.2),
            Duration::from_secs(1),
            1.5,
            None,
        )
        .to_json();
        assert_eq!(seen["measured"], json!(1.2));
        assert_eq!(seen["bound"], json!(1.5));
        assert_eq!(seen["met"], json!(true));
        let unseen =
            Target::time_within("t", None, None, Duration::from_secs(1), 1.5, None).to_json();
        assert_eq!(unseen["measured"], Value::Null);
        assert_eq!(unseen["met"], json!(false));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&sorted, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&sorted, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&sorted, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn reads_are_the_get_operations_and_writes_the_rest() {
        let counters = CountersSnapshot {
            total: 17,
            by_operation: BTreeMap::from([
                ("getRooms".to_owned(), 10),
                ("getThemeById".to_owned(), 2),
                ("createRoom".to_owned(), 4),
                ("updateRoom".to_owned(), 1),
            ]),
            ..CountersSnapshot::default()
        };
        assert_eq!(reads(&counters), 12);
        assert_eq!(api_writes(&counters), 5);
    }

    #[test]
    fn times_are_kept_to_the_millisecond() {
        assert_eq!(secs(Duration::from_micros(1_234_567)), 1.235);
        assert_eq!(round(0.123_456, 4), 0.1235);
    }
}
