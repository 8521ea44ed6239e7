//! A client-wide token bucket shared by every request, with a server-imposed
//! pause and a lower priority for reads that can wait.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Rate and burst of a [`RateLimiter`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second; non-positive or non-finite disables limiting.
    pub per_second: f64,
    /// Requests that may be sent at once after a quiet period (at least 1).
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 10.0,
            burst: 10,
        }
    }
}

/// Whose turn a request takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Served first come, first served.
    Foreground,
    /// Served only from spare capacity: while the bucket is not full
    /// (others are waiting, or spent tokens that have not come back), the
    /// request waits, so it takes only tokens that would otherwise be lost.
    /// From `until` on it queues like a foreground request, so it is late,
    /// never starved.
    Background {
        /// When waiting for spare capacity ends.
        until: Instant,
    },
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative while callers hold reservations.
    tokens: f64,
    refilled_at: Instant,
    paused_until: Option<Instant>,
}

/// Token bucket that hands out send slots in arrival order.
///
/// A caller reserves a token even when none is left and then sleeps until its
/// reservation matures, so waiting callers are served first come, first served
/// and the long-run rate never exceeds the configured one.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    /// A limiter starting with a full bucket.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limit.burst.max(1)),
                refilled_at: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn enabled(&self) -> bool {
        self.limit.per_second.is_finite() && self.limit.per_second > 0.0
    }

    /// Waits for a send slot at `priority` and returns how long the caller
    /// waited.
    pub async fn acquire_at(&self, priority: Priority) -> Duration {
        let started = Instant::now();
        if let Priority::Background { until } = priority
            && self.spare_slot(until).await
        {
            return started.elapsed();
        }
        self.acquire().await;
        started.elapsed()
    }

    /// Takes a token once the bucket is full (true), or gives up at `until`
    /// (false).
    async fn spare_slot(&self, until: Instant) -> bool {
        if !self.enabled() {
            return true;
        }
        let spare = f64::from(self.limit.burst.max(1));
        loop {
            let retry_at = {
                let mut bucket = self.bucket.lock().await;
                let now = Instant::now();
                self.refill(&mut bucket, now);
                match bucket.paused_until {
                    Some(paused) if paused > now => paused,
                    _ if bucket.tokens >= spare => {
                        bucket.tokens -= 1.0;
                        return true;
                    }
                    _ => {
                        let short = (spare - bucket.tokens) / self.limit.per_second;
                        now + Duration::from_secs_f64(short)
                    }
                }
            };
            if retry_at >= until {
                tokio::time::sleep_until(until).await;
                return false;
            }
            tokio::time::sleep_until(retry_at).await;
        }
    }

    /// Adds the tokens earned since the last refill, up to the burst.
    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let capacity = f64::from(self.limit.burst.max(1));
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(capacity);
        bucket.refilled_at = now;
    }

    /// Waits for a send slot and returns how long the caller waited.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let ready_at = {
            let mut bucket = self.bucket.lock().await;
            let now = Instant::now();
            let mut ready_at = now;
            if let Some(until) = bucket.paused_until {
                if until > now {
                    ready_at = until;
                } else {
                    bucket.paused_until = None;
                }
            }
            if self.enabled() {
                self.refill(&mut bucket, now);
                bucket.tokens -= 1.0;
                if bucket.tokens < 0.0 {
                    let wait = Duration::from_secs_f64(-bucket.tokens / self.limit.per_second);
                    ready_at = ready_at.max(now + wait);
                }
            }
            ready_at
        };
        tokio::time::sleep_until(ready_at).await;
        started.elapsed()
    }

    /// Holds every caller back for `duration` (after a 429 with `Retry-After`),
    /// so one refusal does not become a burst of refusals.
    pub async fn pause_for(&self, duration: Duration) {
        let mut bucket = self.bucket.lock().await;
        let until = Instant::now() + duration;
        if bucket.paused_until.is_none_or(|current| current < until) {
            bucket.paused_until = Some(until);
        }
        // Spend the burst: after a refusal, resume at the sustained rate.
        bucket.tokens = bucket.tokens.min(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_configured_rate_after_the_burst() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 5,
        });
        let start = Instant::now();
        for _ in 0..25 {
            limiter.acquire().await;
        }
        // 5 immediately, then 20 at 10/s.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_budget() {
        let limiter = std::sync::Arc::new(RateLimiter::new(RateLimit {
            per_second: 20.0,
            burst: 1,
        }));
        let start = Instant::now();
        let tasks: Vec<_> = (0..41)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.acquire().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pause_delays_everyone() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1000.0,
            burst: 100,
        });
        limiter.pause_for(Duration::from_secs(3)).await;
        let waited = limiter.acquire().await;
        assert!(waited >= Duration::from_secs(3));
    }

    /// `count` foreground requests, each its own task, all queued.
    async fn queue_foreground(
        limiter: &std::sync::Arc<RateLimiter>,
        count: usize,
    ) -> Vec<tokio::task::JoinHandle<Duration>> {
        let queued = (0..count)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.acquire().await })
            })
            .collect();
        tokio::task::yield_now().await;
        queued
    }

    #[tokio::test(start_paused = true)]
    async fn background_requests_take_only_spare_capacity() {
        let limiter = std::sync::Arc::new(RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 4,
        }));
        let start = Instant::now();
        // 24 foreground requests keep the bucket empty for 2 s.
        let foreground = queue_foreground(&limiter, 24).await;
        let until = start + Duration::from_secs(60);
        let waited = limiter.acquire_at(Priority::Background { until }).await;
        for task in foreground {
            task.await.unwrap();
        }
        // Served once the foreground queue drained and the bucket refilled.
        assert!(waited >= Duration::from_millis(2390), "{waited:?}");
        assert!(waited <= Duration::from_millis(2600), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn background_requests_queue_normally_after_their_deadline() {
        let limiter = std::sync::Arc::new(RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 4,
        }));
        let start = Instant::now();
        let foreground = queue_foreground(&limiter, 104).await;
        let until = start + Duration::from_secs(1);
        let waited = limiter.acquire_at(Priority::Background { until }).await;
        // Queued at 1 s behind the 100 reservations still waiting: about 10 s.
        assert!(waited >= Duration::from_millis(9900), "{waited:?}");
        assert!(waited <= Duration::from_millis(10200), "{waited:?}");
        for task in foreground {
            task.await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_serves_background_requests_as_tokens_come_back() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 4,
        });
        let until = Instant::now() + Duration::from_secs(60);
        let background = Priority::Background { until };
        assert_eq!(limiter.acquire_at(background).await, Duration::ZERO);
        // The bucket is full again after one token's time, 100 ms.
        let waited = limiter.acquire_at(background).await;
        assert!(waited >= Duration::from_millis(99), "{waited:?}");
        assert!(waited <= Duration::from_millis(110), "{waited:?}");
        // A foreground request still goes at once: three tokens are left.
        assert_eq!(limiter.acquire().await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_limit_never_waits() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.0,
            burst: 1,
        });
        for _ in 0..1000 {
            assert_eq!(limiter.acquire().await, Duration::ZERO);
        }
    }
}
