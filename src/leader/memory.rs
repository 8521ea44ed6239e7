//! An in-memory Lease with the API server's optimistic concurrency, and
//! failures on demand, for the unit tests.

use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::coordination::v1::Lease;
use tokio::time::Instant;

use super::record;
use super::store::{LeaseStore, StoreError};

/// How the store answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Health {
    /// Normally.
    #[default]
    Up,
    /// Every call fails at once.
    Failing,
    /// Every call waits forever.
    Hanging,
}

/// One successful write: when, and who held the lease afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Write {
    pub(crate) at: Instant,
    pub(crate) holder: Option<String>,
}

#[derive(Default)]
struct State {
    lease: Option<Lease>,
    version: u64,
    health: Health,
    writes: Vec<Write>,
}

/// A shared in-memory Lease.
#[derive(Clone, Default)]
pub(crate) struct MemoryLeases {
    state: Arc<Mutex<State>>,
}

impl MemoryLeases {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_health(&self, health: Health) {
        self.lock().health = health;
    }

    pub(crate) fn lease(&self) -> Option<Lease> {
        self.lock().lease.clone()
    }

    pub(crate) fn holder(&self) -> Option<String> {
        let state = self.lock();
        record::holder(state.lease.as_ref().and_then(|l| l.spec.as_ref())).map(str::to_owned)
    }

    pub(crate) fn writes(&self) -> Vec<Write> {
        self.lock().writes.clone()
    }

    /// Writes `spec` as another party would (kubectl, a foreign candidate).
    pub(crate) fn overwrite(&self, spec: Option<k8s_openapi::api::coordination::v1::LeaseSpec>) {
        let mut state = self.lock();
        let mut lease = state.lease.clone().unwrap_or_default();
        lease.spec = spec;
        state.store(lease);
    }

    pub(crate) fn delete(&self) {
        self.lock().lease = None;
    }

    async fn gate(&self) -> Result<(), StoreError> {
        let health = self.lock().health;
        match health {
            Health::Up => Ok(()),
            Health::Failing => Err(StoreError::Unavailable("injected failure".to_owned())),
            Health::Hanging => std::future::pending().await,
        }
    }
}

impl State {
    fn store(&mut self, mut lease: Lease) -> Lease {
        self.version += 1;
        lease.metadata.resource_version = Some(self.version.to_string());
        self.writes.push(Write {
            at: Instant::now(),
            holder: record::holder(lease.spec.as_ref()).map(str::to_owned),
        });
        self.lease = Some(lease.clone());
        lease
    }
}

impl LeaseStore for MemoryLeases {
    async fn get(&self) -> Result<Option<Lease>, StoreError> {
        self.gate().await?;
        Ok(self.lease())
    }

    async fn create(&self, lease: Lease) -> Result<Lease, StoreError> {
        self.gate().await?;
        let mut state = self.lock();
        if state.lease.is_some() {
            return Err(StoreError::Conflict);
        }
        Ok(state.store(lease))
    }

    async fn replace(&self, lease: Lease) -> Result<Lease, StoreError> {
        self.gate().await?;
        let mut state = self.lock();
        let current = state
            .lease
            .as_ref()
            .and_then(|l| l.metadata.resource_version.clone());
        if current.is_none() || current != lease.metadata.resource_version {
            return Err(StoreError::Conflict);
        }
        Ok(state.store(lease))
    }

    fn describe(&self) -> String {
        "memory/lease".to_owned()
    }
}
