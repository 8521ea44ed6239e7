//! Acquiring, renewing and releasing the Lease.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout_at};

use super::config::{ConfigError, LeaseConfig};
use super::record::{self, Claim, Observer};
use super::store::{LeaseStore, StoreError};

/// Pause after a lost write race before looking again.
const CONFLICT_PAUSE: Duration = Duration::from_millis(100);

/// Where a candidate stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaderState {
    /// The Lease has not been read yet.
    Starting,
    /// Another candidate holds the lease (`None`: nobody yet, an attempt is pending).
    Following {
        /// The current holder's identity.
        holder: Option<String>,
    },
    /// This candidate holds the lease.
    Leading,
    /// This candidate held the lease and lost it: it could not renew before
    /// the renew deadline, or someone else holds it now.
    Lost,
    /// This candidate held the lease and released it.
    Released,
}

/// One candidate for leadership of one Lease.
pub struct Elector<S: LeaseStore> {
    inner: Arc<Inner<S>>,
}

/// The current leadership of an [`Elector`]; renews the lease in the
/// background while it lives.
///
/// Dropping it stops renewing *without* releasing the lease (what a crash
/// does): other candidates take over once the lease expires. Call
/// [`Leadership::release`] to hand over at once.
pub struct Leadership<S: LeaseStore> {
    inner: Arc<Inner<S>>,
    renewer: JoinHandle<()>,
}

struct Inner<S> {
    store: S,
    config: LeaseConfig,
    duration_seconds: i32,
    observer: Mutex<Observer>,
    state: watch::Sender<LeaderState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Take the lease if it is free or expired.
    Acquire,
    /// Renew the lease only if it is still ours.
    Renew,
}

#[derive(Debug)]
enum Step {
    Leading,
    Following {
        holder: Option<String>,
        retry_in: Duration,
    },
    Conflict,
}

impl<S: LeaseStore> Elector<S> {
    /// A candidate using `store`; fails when `config` cannot work.
    pub fn new(store: S, config: LeaseConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let duration_seconds = config.duration_seconds()?;
        let (state, _) = watch::channel(LeaderState::Starting);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                duration_seconds,
                observer: Mutex::new(Observer::default()),
                state,
            }),
        })
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.inner.config.identity
    }

    /// The configuration.
    pub fn config(&self) -> &LeaseConfig {
        &self.inner.config
    }

    /// Follows every change of this candidate's [`LeaderState`].
    pub fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.inner.state.subscribe()
    }

    /// Waits until this candidate holds the lease, then keeps renewing it
    /// until the returned [`Leadership`] is released or dropped. Errors of
    /// the API are logged and retried. Call it once at a time.
    pub async fn acquire(&self) -> Leadership<S> {
        let inner = &self.inner;
        let config = &inner.config;
        loop {
            let sent = Instant::now();
            let pause =
                match timeout_at(sent + config.renew_deadline, inner.step(Mode::Acquire)).await {
                    Ok(Ok(Step::Leading)) => {
                        inner.state.send_replace(LeaderState::Leading);
                        tracing::info!(
                            lease = %inner.store.describe(),
                            identity = %config.identity,
                            "acquired the lease: leading"
                        );
                        let renewer = tokio::spawn(renew(inner.clone(), sent));
                        return Leadership {
                            inner: inner.clone(),
                            renewer,
                        };
                    }
                    Ok(Ok(Step::Following { holder, retry_in })) => {
                        inner.follow(holder);
                        retry_in
                    }
                    Ok(Ok(Step::Conflict)) => CONFLICT_PAUSE.min(config.retry_period),
                    Ok(Err(error)) => {
                        tracing::warn!(
                            lease = %inner.store.describe(),
                            %error,
                            "could not read or take the lease; retrying"
                        );
                        config.retry_period
                    }
                    Err(_) => {
                        tracing::warn!(
                            lease = %inner.store.describe(),
                            "the Kubernetes API did not answer in time; retrying"
                        );
                        config.retry_period
                    }
                };
            sleep(pause).await;
        }
    }
}

impl<S: LeaseStore> Leadership<S> {
    /// Whether the lease is still held (renewed in time).
    pub fn is_leading(&self) -> bool {
        *self.inner.state.borrow() == LeaderState::Leading
    }

    /// Resolves once leadership is lost; never after a release.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut state = self.inner.state.subscribe();
        async move {
            // An error means the elector is gone, so nobody renews any more.
            let _ = state.wait_for(|s| *s == LeaderState::Lost).await;
        }
    }

    /// Stops renewing and hands the lease back (no holder, one-second
    /// duration), so another candidate takes over at once. Does nothing to a
    /// lease that was already lost. On error the lease simply expires.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.renewer.abort();
        let _ = (&mut self.renewer).await;
        let lost = *self.inner.state.borrow() == LeaderState::Lost;
        if lost {
            return Ok(());
        }
        self.inner.state.send_replace(LeaderState::Released);
        let deadline = Instant::now() + self.inner.config.renew_deadline;
        let result = match timeout_at(deadline, self.inner.release()).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(
                "the Kubernetes API did not answer in time".to_owned(),
            )),
        };
        match &result {
            Ok(()) => tracing::info!(
                lease = %self.inner.store.describe(),
                identity = %self.inner.config.identity,
                "released the lease"
            ),
            Err(error) => tracing::warn!(
                lease = %self.inner.store.describe(),
                %error,
                "could not release the lease; it will expire"
            ),
        }
        result
    }
}

impl<S: LeaseStore> Drop for Leadership<S> {
    fn drop(&mut self) {
        self.renewer.abort();
        // Nobody renews any more: whoever waits on `lost()` must stop.
        self.inner.state.send_if_modified(|state| {
            let leading = *state == LeaderState::Leading;
            if leading {
                *state = LeaderState::Lost;
            }
            leading
        });
    }
}

impl<S: LeaseStore> Inner<S> {
    fn observer(&self) -> MutexGuard<'_, Observer> {
        self.observer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One look at the Lease, and one write when `mode` allows taking or renewing it.
    async fn step(&self, mode: Mode) -> Result<Step, StoreError> {
        let current = self.store.get().await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        let claim = self.observer().claim(
            spec,
            &self.config.identity,
            self.config.lease_duration,
            Instant::now(),
        );
        let retry = self.config.retry_period;
        match (mode, claim) {
            (_, Claim::Ours) | (Mode::Acquire, Claim::Free) => {}
            (Mode::Acquire, Claim::Expired { holder }) => {
                tracing::info!(
                    lease = %self.store.describe(),
                    %holder,
                    "the holder did not renew the lease in time; taking over"
                );
            }
            (_, Claim::Held { holder, remaining }) => {
                return Ok(Step::Following {
                    holder: Some(holder),
                    retry_in: remaining.min(retry),
                });
            }
            (Mode::Renew, Claim::Expired { holder }) => {
                return Ok(Step::Following {
                    holder: Some(holder),
                    retry_in: retry,
                });
            }
            (Mode::Renew, Claim::Free) => {
                return Ok(Step::Following {
                    holder: None,
                    retry_in: retry,
                });
            }
        }
        let next = record::claimed(
            spec,
            &self.config.identity,
            self.duration_seconds,
            jiff::Timestamp::now(),
        );
        let written = match current {
            None => {
                self.store
                    .create(Lease {
                        metadata: Default::default(),
                        spec: Some(next),
                    })
                    .await
            }
            Some(mut lease) => {
                lease.spec = Some(next);
                self.store.replace(lease).await
            }
        };
        match written {
            Ok(lease) => {
                if let Some(spec) = &lease.spec {
                    self.observer().observe(spec, Instant::now());
                }
                Ok(Step::Leading)
            }
            Err(StoreError::Conflict) => Ok(Step::Conflict),
            Err(error) => Err(error),
        }
    }

    /// Clears the holder if it is still this candidate.
    async fn release(&self) -> Result<(), StoreError> {
        loop {
            let Some(mut lease) = self.store.get().await? else {
                return Ok(());
            };
            let Some(spec) = lease.spec.as_ref() else {
                return Ok(());
            };
            if record::holder(Some(spec)) != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            lease.spec = Some(record::released(spec, jiff::Timestamp::now()));
            match self.store.replace(lease).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict) => sleep(CONFLICT_PAUSE).await,
                Err(error) => return Err(error),
            }
        }
    }

    fn follow(&self, holder: Option<String>) {
        let next = LeaderState::Following {
            holder: holder.clone(),
        };
        let changed = self.state.send_if_modified(|state| {
            if *state == next {
                false
            } else {
                *state = next;
                true
            }
        });
        if changed {
            tracing::info!(
                lease = %self.store.describe(),
                identity = %self.config.identity,
                holder = holder.as_deref().unwrap_or(""),
                "following"
            );
        }
    }

    fn lose(&self, why: &str) {
        self.state.send_replace(LeaderState::Lost);
        tracing::error!(
            lease = %self.store.describe(),
            identity = %self.config.identity,
            why,
            "lost leadership"
        );
    }
}

/// Renews the lease every `renew_interval` after the last success; declares
/// leadership lost when no renewal succeeded within `renew_deadline` of the
/// last success, or when someone else holds the lease.
///
/// The time of a success is taken *before* its request is sent, so the
/// leader gives up no later than `renew_deadline` after the record others
/// observed, while they wait `lease_duration` (longer) from when they saw it.
async fn renew<S: LeaseStore>(inner: Arc<Inner<S>>, mut renewed_at: Instant) {
    let config = &inner.config;
    loop {
        sleep_until(renewed_at + config.renew_interval).await;
        let deadline = renewed_at + config.renew_deadline;
        loop {
            let sent = Instant::now();
            if sent >= deadline {
                inner.lose("could not renew the lease before the renew deadline");
                return;
            }
            let pause = match timeout_at(deadline, inner.step(Mode::Renew)).await {
                Ok(Ok(Step::Leading)) => {
                    tracing::trace!(lease = %inner.store.describe(), "renewed the lease");
                    renewed_at = sent;
                    break;
                }
                Ok(Ok(Step::Following { holder, .. })) => {
                    let why = match holder {
                        Some(holder) => format!("{holder} holds the lease now"),
                        None => "the lease was released or deleted by someone else".to_owned(),
                    };
                    inner.lose(&why);
                    return;
                }
                Ok(Ok(Step::Conflict)) => CONFLICT_PAUSE.min(config.retry_period),
                Ok(Err(error)) => {
                    tracing::warn!(
                        lease = %inner.store.describe(),
                        %error,
                        "renewing the lease failed; retrying"
                    );
                    config.retry_period
                }
                Err(_) => {
                    inner.lose("the renewal did not complete before the renew deadline");
                    return;
                }
            };
            sleep_until((Instant::now() + pause).min(deadline)).await;
        }
    }
}
