//! The election against an in-memory Lease, on tokio's paused clock.

use std::time::Duration;

use tokio::time::{Instant, sleep, timeout};

use super::memory::{Health, MemoryLeases};
use super::record::RELEASED_DURATION_SECONDS;
use super::{Elector, LeaderState, Leadership, LeaseConfig};

const LEASE: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);
const DEADLINE: Duration = Duration::from_secs(2);
const RETRY: Duration = Duration::from_millis(500);

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: LEASE,
        renew_interval: RENEW,
        renew_deadline: DEADLINE,
        retry_period: RETRY,
        ..LeaseConfig::new("lease", "ns", identity)
    }
}

fn candidate(store: &MemoryLeases, identity: &str) -> Elector<MemoryLeases> {
    Elector::new(store.clone(), config(identity)).unwrap()
}

/// The last write by `identity` before `before`.
fn last_write_by(store: &MemoryLeases, identity: &str, before: Instant) -> Instant {
    store
        .writes()
        .iter()
        .filter(|w| w.holder.as_deref() == Some(identity) && w.at <= before)
        .map(|w| w.at)
        .next_back()
        .unwrap()
}

async fn leads_within(
    elector: &Elector<MemoryLeases>,
    within: Duration,
) -> Leadership<MemoryLeases> {
    timeout(within, elector.acquire())
        .await
        .unwrap_or_else(|_| panic!("{} did not lead within {within:?}", elector.identity()))
}

#[tokio::test(start_paused = true)]
async fn a_free_lease_is_taken_at_once_and_created_when_missing() {
    let store = MemoryLeases::default();
    let a = candidate(&store, "a");
    let leadership = leads_within(&a, Duration::from_millis(1)).await;
    assert!(leadership.is_leading());
    assert_eq!(*a.subscribe().borrow(), LeaderState::Leading);
    let spec = store.lease().unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_duration_seconds, Some(3));
    assert_eq!(spec.lease_transitions, Some(0));
}

#[tokio::test(start_paused = true)]
async fn only_one_candidate_leads_while_the_leader_renews() {
    let store = MemoryLeases::default();
    let a = candidate(&store, "a");
    let b = candidate(&store, "b");
    let leadership = leads_within(&a, Duration::from_millis(1)).await;
    // B keeps trying for a minute of (paused) time and never gets in.
    assert!(timeout(Duration::from_secs(60), b.acquire()).await.is_err());
    assert!(leadership.is_leading());
    assert_eq!(
        *b.subscribe().borrow(),
        LeaderState::Following {
            holder: Some("a".into())
        }
    );
    // A renewed about every second, and nobody else ever wrote.
    let writes = store.writes();
    assert!(writes.len() >= 55, "only {} renewals", writes.len());
    assert!(writes.iter().all(|w| w.holder.as_deref() == Some("a")));
}

#[tokio::test(start_paused = true)]
async fn after_a_crash_a_follower_takes_over_once_the_lease_expires() {
    let store = MemoryLeases::default();
    let a = candidate(&store, "a");
    let b = candidate(&store, "b");
    let leadership = leads_within(&a, Duration::from_millis(1)).await;
    let follower = tokio::spawn(async move {
        let leadership = b.acquire().await;
        (Instant::now(), leadership)
    });
    sleep(Duration::from_millis(4_300)).await;
    let crashed = Instant::now();
    drop(leadership); // stops renewing, releases nothing
    let (took_over, b_leads) = follower.await.unwrap();
    assert!(b_leads.is_leading());
    let last_renewal = last_write_by(&store, "a", crashed);
    // Never before A's claim lapsed, as B saw it ...
    assert!(took_over >= last_renewal + LEASE);
    // ... and within a lease duration and one retry period of the crash.
    assert!(
        took_over - crashed <= LEASE + RETRY,
        "took {:?}",
        took_over - crashed
    );
    let spec = store.lease().unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
}

#[tokio::test(start_paused = true)]
async fn a_release_hands_over_at_the_next_look() {
    let store = MemoryLeases::default();
    let a = candidate(&store, "a");
    let b = candidate(&store, "b");
    let leadership = leads_within(&a, Duration::from_millis(1)).await;
    let follower = tokio::spawn(async move {
        let leadership = b.acquire().await;
        (Instant::now(), leadership)
    });
    sleep(Duration::from_millis(2_100)).await;
    let released = Instant::now();
    leadership.release().await.unwrap();
    assert_eq!(*a.subscribe().borrow(), LeaderState::Released);
    let spec = store.lease().unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity, None);
    assert_eq!(spec.lease_duration_seconds, Some(RELEASED_DURATION_SECONDS));
    let (took_over, _b) = follower.await.unwrap();
    assert!(
        took_over - released <= RETRY,
        "took {:?}",
        took_over - released
    );
}

#[tokio::test(start_paused = true)]
async fn the_leader_gives_up_before_anyone_may_take_over_when_the_api_fails() {
    for health in [Health::Failing, Health::Hanging] {
        let store = MemoryLeases::default();
        let a = candidate(&store, "a");
        let b = candidate(&store, "b");
        let leadership = leads_within(&a, Duration::from_millis(1)).await;
        let lost = leadership.lost();
        let follower = tokio::spawn(async move {
            let leadership = b.acquire().await;
            (Instant::now(), leadership)
        });
        sleep(Duration::from_millis(3_500)).await;
        let outage = Instant::now();
        store.set_health(health);
        timeout(LEASE, lost).await.expect("leadership is lost");
        let gave_up = Instant::now();
        assert!(!leadership.is_leading());
        assert_eq!(*a.subscribe().borrow(), LeaderState::Lost);
        let last_renewal = last_write_by(&store, "a", outage);
        assert!(
            gave_up <= last_renewal + DEADLINE,
            "{health:?}: gave up {:?} after the last renewal",
            gave_up - last_renewal
        );
        store.set_health(Health::Up);
        let (took_over, _b) = follower.await.unwrap();
        assert!(took_over >= last_renewal + LEASE, "{health:?}");
        assert!(took_over > gave_up, "{health:?}");
        // Releasing a lost lease leaves the new holder alone.
        leadership.release().await.unwrap();
        assert_eq!(store.holder().as_deref(), Some("b"));
    }
}

#[tokio::test(start_paused = true)]
async fn the_leader_steps_down_at_its_next_renewal_when_someone_else_holds_the_lease() {
    let store = MemoryLeases::default();
    let a = candidate(&store, "a");
    let leadership = leads_within(&a, Duration::from_millis(1)).await;
    let mut spec = store.lease().unwrap().spec.unwrap();
    spec.holder_identity = Some("intruder".into());
    store.overwrite(Some(spec));
    timeout(RENEW + Duration::from_millis(10), leadership.lost())
        .await
        .expect("leadership is lost at the next renewal");
    leadership.release().await.unwrap();
    assert_eq!(store.holder().as_deref(), Some("intruder"));
}

#[tokio::test(start_paused = true)]
async fn the_leader_steps_down_when_the_lease_is_deleted() {
    let store = MemoryLeases::default();
    let a = candidate(&store, "a");
    let leadership = leads_within(&a, Duration::from_millis(1)).await;
    store.delete();
    timeout(RENEW + Duration::from_millis(10), leadership.lost())
        .await
        .expect("leadership is lost at the next renewal");
}

#[tokio::test(start_paused = true)]
async fn a_foreign_write_does_not_depose_the_leader() {
    let store = MemoryLeases::default();
    let a = candidate(&store, "a");
    let leadership = leads_within(&a, Duration::from_millis(1)).await;
    // Someone touches the Lease (a new resourceVersion) but keeps the holder.
    store.overwrite(store.lease().unwrap().spec);
    sleep(Duration::from_secs(10)).await;
    assert!(leadership.is_leading());
}

#[tokio::test(start_paused = true)]
async fn a_restarted_process_with_the_same_identity_resumes_at_once() {
    let store = MemoryLeases::default();
    let first = candidate(&store, "pod-0");
    drop(leads_within(&first, Duration::from_millis(1)).await);
    let again = candidate(&store, "pod-0");
    let leadership = leads_within(&again, Duration::from_millis(1)).await;
    assert!(leadership.is_leading());
}

#[tokio::test(start_paused = true)]
async fn racing_candidates_never_overlap() {
    let store = MemoryLeases::default();
    let names = ["a", "b", "c", "d"];
    let mut tasks = Vec::new();
    for name in names {
        let elector = candidate(&store, name);
        tasks.push(tokio::spawn(async move {
            // Lead for a while, then crash; start over; three rounds.
            for round in 0..3u64 {
                let leadership = elector.acquire().await;
                sleep(Duration::from_millis(1_700 + 300 * round)).await;
                if round % 2 == 0 {
                    drop(leadership);
                } else {
                    leadership.release().await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        timeout(Duration::from_secs(600), task)
            .await
            .unwrap()
            .unwrap();
    }
    // Replaying the writes: a new holder only ever wrote after the previous
    // holder released, or after the lease duration passed since its last write.
    let writes = store.writes();
    let mut previous: Option<(String, Instant)> = None;
    for write in &writes {
        match (&previous, &write.holder) {
            (Some((holder, last)), Some(new)) if holder != new => {
                assert!(
                    write.at >= *last + LEASE,
                    "{new} took over {:?} after {holder}'s last renewal",
                    write.at - *last
                );
            }
            _ => {}
        }
        previous = write.holder.clone().map(|h| (h, write.at));
    }
    assert!(writes.len() > 12);
}
