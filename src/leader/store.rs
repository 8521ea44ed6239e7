//! Where the Lease lives: the Kubernetes API, or memory in unit tests.

use std::future::Future;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

/// Field manager of the operator's writes to its Lease.
pub const FIELD_MANAGER: &str = "meetings-operator-leader-election";

/// Why a read or write of the Lease failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The Lease changed since it was read (resourceVersion mismatch), or it
    /// was created by someone else first.
    #[error("the Lease was changed by someone else")]
    Conflict,
    /// The Kubernetes API refused or could not be reached.
    #[error("Kubernetes API: {0}")]
    Kube(#[source] kube::Error),
    /// Any other store failure.
    #[error("{0}")]
    Unavailable(String),
}

impl From<kube::Error> for StoreError {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) if status.code == 409 => Self::Conflict,
            other => Self::Kube(other),
        }
    }
}

/// Reads and writes one Lease with optimistic concurrency: `replace` must
/// fail with [`StoreError::Conflict`] when the Lease's `resourceVersion`
/// differs from the one in the object passed.
pub trait LeaseStore: Send + Sync + 'static {
    /// The Lease, or `None` when it does not exist.
    fn get(&self) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;
    /// Creates the Lease (its name is filled in); conflicts when it exists.
    fn create(&self, lease: Lease) -> impl Future<Output = Result<Lease, StoreError>> + Send;
    /// Replaces the Lease if its `resourceVersion` is still the one in `lease`.
    fn replace(&self, lease: Lease) -> impl Future<Output = Result<Lease, StoreError>> + Send;
    /// `namespace/name` of the Lease, for logs.
    fn describe(&self) -> String;
}

/// A Lease in the Kubernetes API.
#[derive(Clone)]
pub struct KubeLeases {
    api: Api<Lease>,
    namespace: String,
    name: String,
}

impl KubeLeases {
    /// The Lease `namespace/name`.
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    fn params() -> PostParams {
        PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PostParams::default()
        }
    }
}

impl LeaseStore for KubeLeases {
    async fn get(&self) -> Result<Option<Lease>, StoreError> {
        Ok(self.api.get_opt(&self.name).await?)
    }

    async fn create(&self, mut lease: Lease) -> Result<Lease, StoreError> {
        lease.metadata = ObjectMeta {
            name: Some(self.name.clone()),
            ..lease.metadata
        };
        Ok(self.api.create(&Self::params(), &lease).await?)
    }

    async fn replace(&self, lease: Lease) -> Result<Lease, StoreError> {
        Ok(self
            .api
            .replace(&self.name, &Self::params(), &lease)
            .await?)
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
