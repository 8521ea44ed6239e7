//! The resync cycle of a scope: one beat per resync period that both
//! controllers follow. Each beginning starts the room listing and wakes
//! every theme, and a settled object is observed once per cycle, so an idle
//! period costs the listing's pages plus one read per theme, each theme
//! read at the same point of the cycle.

use std::time::Duration;

use futures::Stream;
use tokio::sync::watch;
use tokio::time::Instant;

/// When the current cycle began, and who waits for the next beginning.
pub struct ResyncCycle {
    began: watch::Sender<Instant>,
}

impl Default for ResyncCycle {
    /// A cycle that begins now.
    fn default() -> Self {
        Self {
            began: watch::Sender::new(Instant::now()),
        }
    }
}

impl ResyncCycle {
    /// When the current cycle began.
    pub fn began(&self) -> Instant {
        *self.began.borrow()
    }

    /// Begins a new cycle now.
    pub fn begin(&self) {
        self.began.send_replace(Instant::now());
    }

    /// Begins a cycle `period()` after each beginning, forever.
    pub async fn run(&self, period: impl Fn() -> Duration) {
        loop {
            tokio::time::sleep_until(self.began() + period()).await;
            self.begin();
        }
    }

    /// The beginnings after this call, each as the instant it began.
    /// Beginnings that pass while the reader is busy come as the latest one.
    pub fn beginnings(&self) -> impl Stream<Item = Instant> + Send + 'static {
        let mut receiver = self.began.subscribe();
        receiver.mark_unchanged();
        futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.changed().await.ok()?;
            let began = *receiver.borrow_and_update();
            Some((began, receiver))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::StreamExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_cycle_begins_each_period_after_the_last_beginning() {
        let cycle = Arc::new(ResyncCycle::default());
        let start = cycle.began();
        let mut beginnings = std::pin::pin!(cycle.beginnings());
        let clock = cycle.clone();
        let ticking = tokio::spawn(async move { clock.run(|| Duration::from_secs(10)).await });

        let first = beginnings.next().await.expect("a beginning");
        assert_eq!(first - start, Duration::from_secs(10));
        assert_eq!(cycle.began(), first);
        let second = beginnings.next().await.expect("a beginning");
        assert_eq!(second - first, Duration::from_secs(10));
        ticking.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_sees_only_beginnings_after_it_subscribed_and_the_latest_of_those_it_missed() {
        let cycle = ResyncCycle::default();
        cycle.begin();
        let mut beginnings = std::pin::pin!(cycle.beginnings());
        tokio::time::advance(Duration::from_secs(1)).await;
        cycle.begin();
        tokio::time::advance(Duration::from_secs(1)).await;
        cycle.begin();
        let latest = cycle.began();
        assert_eq!(beginnings.next().await, Some(latest));
        let nothing_yet = tokio::time::timeout(Duration::from_secs(60), beginnings.next()).await;
        assert!(nothing_yet.is_err(), "no beginning without a new cycle");
    }

    #[tokio::test]
    async fn the_beginnings_end_with_the_cycle() {
        let cycle = ResyncCycle::default();
        let beginnings = cycle.beginnings();
        drop(cycle);
        assert_eq!(beginnings.collect::<Vec<_>>().await, Vec::new());
    }
}
