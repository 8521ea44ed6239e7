//! The targets' bounds: the rate limit's lower bound on all Ready (as a
//! time and as a curve for the picture) and the ratios allowed to it.

use std::time::Duration;

use crate::args::Args;

/// The first API call after a restart within this many times a plain LIST
/// of the rooms.
pub const FIRST_CALL_VS_LIST: f64 = 1.5;
/// Every room re-observed after a restart within the listing time (pages ×
/// latency) times this.
pub const REOBSERVE_SLACK: f64 = 1.2;
/// All Ready within this many times the lower bound: 1.05 up to 1,000
/// rooms, 1.10 above.
pub fn convergence_ratio(rooms: usize) -> f64 {
    if rooms <= 1_000 { 1.05 } else { 1.10 }
}

/// All Ready at the earliest: the creates beyond the server's burst at its
/// rate, plus one latency.
pub fn lower_bound(args: &Args, themes: usize, latency: Duration) -> Duration {
    let creates = (args.rooms + themes) as f64;
    let after_burst = (creates - f64::from(args.server_burst())).max(0.0);
    Duration::from_secs_f64(after_burst / args.rate_limit) + latency
}

/// What the bound allows at the client's own burst and rate (the operator
/// cannot spend more of the server's bucket than its own holds).
pub fn client_bound(args: &Args, themes: usize, latency: Duration) -> Duration {
    let creates = (args.rooms + themes) as f64;
    let burst = args.server_burst().min(args.client_burst());
    let rate = args.rate_limit.min(args.client_rate());
    Duration::from_secs_f64((creates - f64::from(burst)).max(0.0) / rate) + latency
}

/// The lower bound as rooms over time: the themes' and then the rooms'
/// creates spend the server's burst at once and then its rate, each room
/// Ready one latency after its create.
pub fn bound_curve(args: &Args, themes: usize, latency: Duration) -> Vec<(f64, f64)> {
    let burst = f64::from(args.server_burst());
    let rooms = args.rooms as f64;
    let lat = latency.as_secs_f64();
    let at_start = (burst - themes as f64).clamp(0.0, rooms);
    let end = lower_bound(args, themes, latency).as_secs_f64();
    vec![
        (0.0, 0.0),
        (lat, 0.0),
        (lat, at_start),
        (end.max(lat), rooms),
    ]
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const LATENCY: Duration = Duration::from_millis(50);

    /// The defaults: 50/s on the server (burst 50), the client at 50/s with
    /// a burst of 40.
    fn rooms(n: &str) -> Args {
        Args::parse_from(["bench", "--rooms", n])
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_bound_is_the_creates_beyond_the_burst_at_the_rate_plus_one_latency() {
        // (10,000 rooms + 5 themes − 50) / 50 per second + 0.05 s
        let bound = lower_bound(&rooms("10000"), 5, LATENCY).as_secs_f64();
        assert!(close(bound, 199.15), "{bound}");
        // Fewer creates than the burst: one latency.
        assert_eq!(lower_bound(&rooms("10"), 5, LATENCY), LATENCY);
    }

    #[test]
    fn the_client_bound_spends_only_the_clients_burst() {
        let bound = client_bound(&rooms("10000"), 5, LATENCY).as_secs_f64();
        assert!(close(bound, 199.35), "{bound}");
    }

    #[test]
    fn the_curve_starts_with_the_burst_left_after_the_themes_and_ends_at_the_bound() {
        let curve = bound_curve(&rooms("10000"), 5, LATENCY);
        assert_eq!(curve[..3], [(0.0, 0.0), (0.05, 0.0), (0.05, 45.0)]);
        let (end, all) = curve[3];
        assert!(close(end, 199.15) && close(all, 10_000.0), "{curve:?}");
    }

    #[test]
    fn large_runs_are_allowed_a_tenth_above_the_bound() {
        assert!(close(convergence_ratio(1_000), 1.05));
        assert!(close(convergence_ratio(1_001), 1.10));
    }
}
