//! Meetings API clients built from credentials Secrets, cached per Secret and
//! rebuilt when the Secret changes, so a rotation needs no restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::crd::CredentialsRef;
use crate::meetings::{
    ApiObserver, ClientConfig, Credentials, MeetingsClient, RateLimiter, http_client,
};

/// Why no client could be built; every variant says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsProblem {
    /// The referenced Secret does not exist.
    #[error(
        "credentials Secret {namespace}/{name} not found: create it with keys {app_key} and {key_key}"
    )]
    SecretNotFound {
        /// Namespace searched.
        namespace: String,
        /// Secret name.
        name: String,
        /// Expected application id key.
        app_key: String,
        /// Expected private key key.
        key_key: String,
    },
    /// A key is missing or empty.
    #[error("credentials Secret {namespace}/{name} has no non-empty key {key}")]
    MissingKey {
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// Missing key.
        key: String,
    },
    /// The values cannot be used.
    #[error("credentials Secret {namespace}/{name} is unusable: {reason}")]
    Invalid {
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// What is wrong (never the key itself).
        reason: String,
    },
    /// The object names no Secret and the operator has no default.
    #[error(
        "no credentialsRef is set and the operator has no default credentials Secret (--default-credentials)"
    )]
    NoDefault,
    /// Reading the Secret failed.
    #[error("reading credentials Secret {namespace}/{name}: {source}")]
    Kube {
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
}

/// A Secret given as `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::str::FromStr for SecretKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => Ok(Self {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err(format!("expected NAMESPACE/NAME, got {s:?}")),
        }
    }
}

struct Cached {
    checked_at: Instant,
    resource_version: Option<String>,
    client: MeetingsClient,
}

/// Builds and caches one [`MeetingsClient`] per credentials Secret.
///
/// A cached client is trusted for `recheck`; after that the Secret is read
/// again (one Kubernetes GET) and the client rebuilt if its resourceVersion
/// changed. [`CredentialStore::forget`] forces a re-read after a 401.
pub struct CredentialStore {
    kube: kube::Client,
    default: Option<SecretKey>,
    config: ClientConfig,
    http: reqwest::Client,
    observer: Arc<dyn ApiObserver>,
    recheck: Duration,
    limiters: Mutex<HashMap<String, Arc<RateLimiter>>>,
    cache: Mutex<HashMap<(SecretKey, String, String), Cached>>,
}

impl CredentialStore {
    /// A store reading Secrets through `kube`, with `default` for objects without a reference.
    pub fn new(
        kube: kube::Client,
        default: Option<SecretKey>,
        config: ClientConfig,
        observer: Arc<dyn ApiObserver>,
        recheck: Duration,
    ) -> Result<Self, crate::meetings::ApiError> {
        Ok(Self {
            kube,
            default,
            http: http_client(&config)?,
            config,
            observer,
            recheck,
            limiters: Mutex::default(),
            cache: Mutex::default(),
        })
    }

    fn secret_for(
        &self,
        namespace: &str,
        reference: Option<&CredentialsRef>,
    ) -> Result<(SecretKey, String, String), CredentialsProblem> {
        match reference {
            Some(r) => Ok((
                SecretKey {
                    namespace: namespace.to_owned(),
                    name: r.name.clone(),
                },
                r.application_id_key().to_owned(),
                r.private_key_key().to_owned(),
            )),
            None => self
                .default
                .clone()
                .map(|key| {
                    (
                        key,
                        CredentialsRef::APPLICATION_ID_KEY.to_owned(),
                        CredentialsRef::PRIVATE_KEY_KEY.to_owned(),
                    )
                })
                .ok_or(CredentialsProblem::NoDefault),
        }
    }

    /// The client for an object in `namespace` with an optional reference.
    pub async fn client(
        &self,
        namespace: &str,
        reference: Option<&CredentialsRef>,
    ) -> Result<MeetingsClient, CredentialsProblem> {
        let cache_key = self.secret_for(namespace, reference)?;
        if let Some(cached) = self.lock_cache().get(&cache_key)
            && cached.checked_at.elapsed() < self.recheck
        {
            return Ok(cached.client.clone());
        }
        let (secret_key, app_key, private_key_key) = &cache_key;
        let api: Api<Secret> = Api::namespaced(self.kube.clone(), &secret_key.namespace);
        let secret = api
            .get_opt(&secret_key.name)
            .await
            .map_err(|source| CredentialsProblem::Kube {
                namespace: secret_key.namespace.clone(),
                name: secret_key.name.clone(),
                source,
            })?
            .ok_or_else(|| CredentialsProblem::SecretNotFound {
                namespace: secret_key.namespace.clone(),
                name: secret_key.name.clone(),
                app_key: app_key.clone(),
                key_key: private_key_key.clone(),
            })?;
        let version = secret.metadata.resource_version.clone();
        {
            let mut cache = self.lock_cache();
            if let Some(cached) = cache.get_mut(&cache_key)
                && cached.resource_version == version
            {
                cached.checked_at = Instant::now();
                return Ok(cached.client.clone());
            }
        }
        let client = self.build(secret_key, &secret, app_key, private_key_key)?;
        self.lock_cache().insert(
            cache_key,
            Cached {
                checked_at: Instant::now(),
                resource_version: version,
                client: client.clone(),
            },
        );
        Ok(client)
    }

    /// Drops the cached client of this reference so the Secret is read again.
    pub fn forget(&self, namespace: &str, reference: Option<&CredentialsRef>) {
        if let Ok(key) = self.secret_for(namespace, reference) {
            self.lock_cache().remove(&key);
        }
    }

    fn build(
        &self,
        secret_key: &SecretKey,
        secret: &Secret,
        app_key: &str,
        private_key_key: &str,
    ) -> Result<MeetingsClient, CredentialsProblem> {
        let value = |key: &str| {
            let data = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|b| b.0.clone());
            let string = secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.as_bytes().to_vec());
            data.or(string)
                .filter(|v| !v.iter().all(u8::is_ascii_whitespace))
                .ok_or_else(|| CredentialsProblem::MissingKey {
                    namespace: secret_key.namespace.clone(),
                    name: secret_key.name.clone(),
                    key: key.to_owned(),
                })
        };
        let application_id =
            String::from_utf8(value(app_key)?).map_err(|_| CredentialsProblem::Invalid {
                namespace: secret_key.namespace.clone(),
                name: secret_key.name.clone(),
                reason: format!("{app_key} is not UTF-8"),
            })?;
        let credentials =
            Credentials::new(&application_id, &value(private_key_key)?).map_err(|e| {
                CredentialsProblem::Invalid {
                    namespace: secret_key.namespace.clone(),
                    name: secret_key.name.clone(),
                    reason: e.to_string(),
                }
            })?;
        let limiter = self
            .limiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(credentials.application_id().to_owned())
            .or_insert_with(|| Arc::new(RateLimiter::new(self.config.rate_limit)))
            .clone();
        MeetingsClient::builder(self.config.clone(), credentials)
            .http_client(self.http.clone())
            .rate_limiter(limiter)
            .observer(self.observer.clone())
            .build()
            .map_err(|e| CredentialsProblem::Invalid {
                namespace: secret_key.namespace.clone(),
                name: secret_key.name.clone(),
                reason: e.to_string(),
            })
    }

    fn lock_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(SecretKey, String, String), Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}
