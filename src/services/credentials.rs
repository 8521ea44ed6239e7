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

#[cfg(test)]
mod tests {
    //! The store against an in-process Kubernetes API serving Secrets (an
    //! axum router given to `kube::Client::new`, which counts the reads) and,
    //! for the 401 path, the Meetings simulator.

    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use k8s_openapi::ByteString;
    use kube::api::ObjectMeta;
    use meetings_simulator::Simulator;

    use super::*;
    use crate::meetings::{ErrorClass, NoopObserver};

    const NS: &str = "team-a";
    const NAME: &str = "meetings";
    /// A Secret the fake API refuses to show (403).
    const FORBIDDEN: &str = "forbidden";
    const HOUR: Duration = Duration::from_secs(3600);
    /// Where no Meetings API listens: only the simulator test calls one.
    const NOWHERE: &str = "http://127.0.0.1:9/v1/meetings";

    /// Kubernetes' Secrets by namespace and name, and how often one was read.
    #[derive(Clone, Default)]
    struct FakeApi {
        secrets: Arc<Mutex<HashMap<(String, String), Secret>>>,
        reads: Arc<AtomicUsize>,
    }

    impl FakeApi {
        fn put(&self, namespace: &str, name: &str, version: &str, data: &[(&str, &[u8])]) {
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(namespace.into()),
                    resource_version: Some(version.into()),
                    ..ObjectMeta::default()
                },
                data: Some(
                    data.iter()
                        .map(|(key, value)| ((*key).to_owned(), ByteString(value.to_vec())))
                        .collect(),
                ),
                ..Secret::default()
            };
            self.secrets
                .lock()
                .expect("secrets")
                .insert((namespace.into(), name.into()), secret);
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }

        fn client(&self) -> kube::Client {
            let router = axum::Router::new()
                .route(
                    "/api/v1/namespaces/{namespace}/secrets/{name}",
                    axum::routing::get(get_secret),
                )
                .with_state(self.clone());
            kube::Client::new(router, "default")
        }
    }

    async fn get_secret(
        State(api): State<FakeApi>,
        Path((namespace, name)): Path<(String, String)>,
    ) -> Response {
        api.reads.fetch_add(1, Ordering::SeqCst);
        if name == FORBIDDEN {
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!("secrets \"{name}\" is forbidden: no get in {namespace}"),
            );
        }
        let found = api
            .secrets
            .lock()
            .expect("secrets")
            .get(&(namespace, name.clone()))
            .cloned();
        match found {
            Some(secret) => axum::Json(secret).into_response(),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("secrets \"{name}\" not found"),
            ),
        }
    }

    fn status(code: StatusCode, reason: &str, message: String) -> Response {
        let body = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code.as_u16(),
        });
        (code, axum::Json(body)).into_response()
    }

    fn store(
        api: &FakeApi,
        default: Option<SecretKey>,
        recheck: Duration,
        base_url: &str,
    ) -> CredentialStore {
        let config = ClientConfig::unlimited_single_attempt(base_url);
        CredentialStore::new(
            api.client(),
            default,
            config,
            Arc::new(NoopObserver),
            recheck,
        )
        .expect("store")
    }

    fn reference(name: &str) -> CredentialsRef {
        CredentialsRef {
            name: name.into(),
            ..CredentialsRef::default()
        }
    }

    /// Two RSA private keys (PKCS#8 PEM), generated once for every test.
    fn keys() -> &'static [String; 2] {
        static KEYS: OnceLock<[String; 2]> = OnceLock::new();
        KEYS.get_or_init(|| {
            let key = || {
                meetings_simulator::generate_key_pair()
                    .expect("key pair")
                    .private_pem
            };
            [key(), key()]
        })
    }

    fn credentials(application_id: &str, key: &str) -> Credentials {
        Credentials::new(application_id, key.as_bytes()).expect("credentials")
    }

    /// The default key names.
    fn data<'a>(application_id: &'a str, key: &'a str) -> [(&'a str, &'a [u8]); 2] {
        [
            (
                CredentialsRef::APPLICATION_ID_KEY,
                application_id.as_bytes(),
            ),
            (CredentialsRef::PRIVATE_KEY_KEY, key.as_bytes()),
        ]
    }

    /// The same client (clones share one token cache and rate limiter), not
    /// one rebuilt from the same values.
    fn same(a: &MeetingsClient, b: &MeetingsClient) -> bool {
        std::ptr::eq(a.credentials(), b.credentials())
    }

    #[tokio::test]
    async fn a_secret_is_read_once_and_its_client_reused() {
        let [key, _] = keys();
        let api = FakeApi::default();
        api.put(NS, NAME, "1", &data("app-1", key));
        api.put("team-b", NAME, "1", &data("app-2", key));
        let store = store(&api, None, HOUR, NOWHERE);
        let r = reference(NAME);

        let first = store.client(NS, Some(&r)).await.expect("client");
        assert_eq!(first.credentials(), &credentials("app-1", key));
        let again = store.client(NS, Some(&r)).await.expect("client");
        assert!(same(&first, &again));
        assert_eq!(api.reads(), 1);

        // The same name in another namespace is another Secret.
        let other = store.client("team-b", Some(&r)).await.expect("client");
        assert_eq!(other.application_id(), "app-2");
        assert_eq!(api.reads(), 2);
    }

    #[tokio::test]
    async fn after_recheck_an_unchanged_secret_keeps_its_client() {
        let [key, _] = keys();
        let api = FakeApi::default();
        api.put(NS, NAME, "1", &data("app-1", key));
        let recheck = Duration::from_millis(200);
        let store = store(&api, None, recheck, NOWHERE);
        let r = reference(NAME);

        let first = store.client(NS, Some(&r)).await.expect("client");
        tokio::time::sleep(recheck + Duration::from_millis(50)).await;
        let checked = store.client(NS, Some(&r)).await.expect("client");
        assert_eq!(api.reads(), 2, "read again after `recheck`");
        assert!(same(&first, &checked), "same resourceVersion: same client");
        // The check restarted the clock.
        let trusted = store.client(NS, Some(&r)).await.expect("client");
        assert!(same(&first, &trusted));
        assert_eq!(api.reads(), 2);
    }

    #[tokio::test]
    async fn after_recheck_a_rotated_secret_gets_a_new_client() {
        let [old_key, new_key] = keys();
        let api = FakeApi::default();
        api.put(NS, NAME, "1", &data("app-1", old_key));
        let store = store(&api, None, Duration::ZERO, NOWHERE);
        let r = reference(NAME);
        let first = store.client(NS, Some(&r)).await.expect("client");

        // A new key for the same application.
        api.put(NS, NAME, "2", &data("app-1", new_key));
        let rotated = store.client(NS, Some(&r)).await.expect("client");
        assert!(!same(&first, &rotated));
        assert_eq!(rotated.credentials(), &credentials("app-1", new_key));
        assert!(
            Arc::ptr_eq(first.rate_limiter(), rotated.rate_limiter()),
            "the application's rate limit outlives a rotation"
        );

        // Another application.
        api.put(NS, NAME, "3", &data("app-2", new_key));
        let moved = store.client(NS, Some(&r)).await.expect("client");
        assert_eq!(moved.application_id(), "app-2");
        assert!(!Arc::ptr_eq(first.rate_limiter(), moved.rate_limiter()));

        let unchanged = store.client(NS, Some(&r)).await.expect("client");
        assert!(same(&moved, &unchanged));
        assert_eq!(api.reads(), 4);
    }

    #[tokio::test]
    async fn within_recheck_a_rotation_is_picked_up_after_forget() {
        let [old_key, new_key] = keys();
        let api = FakeApi::default();
        api.put(NS, NAME, "1", &data("app-1", old_key));
        api.put(NS, "other", "1", &data("app-2", old_key));
        let store = store(&api, None, HOUR, NOWHERE);
        let r = reference(NAME);
        let other = reference("other");
        let first = store.client(NS, Some(&r)).await.expect("client");
        let first_other = store.client(NS, Some(&other)).await.expect("client");

        api.put(NS, NAME, "2", &data("app-1", new_key));
        let cached = store.client(NS, Some(&r)).await.expect("client");
        assert!(same(&first, &cached), "trusted for `recheck`");
        assert_eq!(api.reads(), 2);

        store.forget(NS, Some(&r));
        let rotated = store.client(NS, Some(&r)).await.expect("client");
        assert_eq!(rotated.credentials(), &credentials("app-1", new_key));
        assert_eq!(api.reads(), 3);

        // Only that reference was forgotten.
        let still = store.client(NS, Some(&other)).await.expect("client");
        assert!(same(&first_other, &still));
        assert_eq!(api.reads(), 3);
    }

    #[tokio::test]
    async fn forget_after_a_401_recovers_from_a_key_rotation() {
        let sim = Simulator::builder().start().await.expect("simulator");
        let app = sim.default_application().expect("default application");
        let api = FakeApi::default();
        api.put(
            NS,
            NAME,
            "1",
            &data(&app.application_id, &app.private_key_pem),
        );
        let store = store(&api, None, HOUR, &sim.base_url());
        let r = reference(NAME);
        let before = store.client(NS, Some(&r)).await.expect("client");
        before.themes().await.expect("the first key works");

        let rotated = sim
            .rotate_key(&app.application_id)
            .await
            .expect("rotate key");
        api.put(
            NS,
            NAME,
            "2",
            &data(&app.application_id, &rotated.private_key_pem),
        );
        let cached = store.client(NS, Some(&r)).await.expect("client");
        assert!(same(&before, &cached));
        let refused = cached.themes().await.expect_err("the old key is revoked");
        assert_eq!(refused.class(), ErrorClass::Unauthorized);

        // What the controllers do on a 401.
        store.forget(NS, Some(&r));
        let after = store.client(NS, Some(&r)).await.expect("client");
        after.themes().await.expect("the rotated key works");
        assert_eq!(api.reads(), 2);
    }

    #[tokio::test]
    async fn a_missing_secret_says_what_to_create_and_is_not_remembered() {
        let [key, _] = keys();
        let api = FakeApi::default();
        let store = store(&api, None, HOUR, NOWHERE);
        let r = CredentialsRef {
            name: NAME.into(),
            application_id_key: Some("appId".into()),
            private_key_key: Some("pem".into()),
        };

        let problem = store.client(NS, Some(&r)).await.expect_err("no Secret");
        assert!(
            matches!(&problem, CredentialsProblem::SecretNotFound { namespace, name, .. }
                if namespace == NS && name == NAME),
            "{problem:?}"
        );
        assert_eq!(
            problem.to_string(),
            "credentials Secret team-a/meetings not found: create it with keys appId and pem"
        );

        // Created later: the next call reads it, without waiting for `recheck`.
        api.put(
            NS,
            NAME,
            "1",
            &[("appId", b"app-1".as_slice()), ("pem", key.as_bytes())],
        );
        let client = store.client(NS, Some(&r)).await.expect("client");
        assert_eq!(client.application_id(), "app-1");
        assert_eq!(api.reads(), 2);
    }

    #[tokio::test]
    async fn a_missing_or_blank_key_is_named() {
        let [key, _] = keys();
        let api = FakeApi::default();
        let store = store(&api, None, HOUR, NOWHERE);
        let r = reference(NAME);
        let missing_key = |problem: CredentialsProblem| match problem {
            CredentialsProblem::MissingKey { key, .. } => key,
            other => panic!("expected MissingKey, got {other:?}"),
        };

        api.put(NS, NAME, "1", &[("applicationId", b"app-1".as_slice())]);
        let problem = store.client(NS, Some(&r)).await.expect_err("no key");
        assert_eq!(
            problem.to_string(),
            "credentials Secret team-a/meetings has no non-empty key privateKey"
        );
        assert_eq!(missing_key(problem), "privateKey");

        api.put(
            NS,
            NAME,
            "2",
            &[
                ("applicationId", b" \n".as_slice()),
                ("privateKey", key.as_bytes()),
            ],
        );
        let problem = store.client(NS, Some(&r)).await.expect_err("blank id");
        assert_eq!(missing_key(problem), "applicationId");

        api.put(NS, NAME, "3", &[]);
        let problem = store.client(NS, Some(&r)).await.expect_err("empty Secret");
        assert_eq!(missing_key(problem), "applicationId");
    }

    #[tokio::test]
    async fn an_unusable_key_is_reported_without_its_material() {
        let [key, _] = keys();
        let api = FakeApi::default();
        let store = store(&api, None, HOUR, NOWHERE);
        let r = reference(NAME);

        // A PEM with one line of its body lost, and a value that is no PEM at all.
        let lines: Vec<&str> = key.lines().collect();
        let mut damaged = lines.clone();
        damaged.remove(lines.len() / 2);
        let damaged = damaged.join("\n");
        let not_pem = "s3cr3t-not-a-pem-but-still-secret";
        for (version, value) in [("1", damaged.as_str()), ("2", not_pem)] {
            api.put(NS, NAME, version, &data("app-1", value));
            let problem = store.client(NS, Some(&r)).await.expect_err("unusable key");
            assert!(
                matches!(problem, CredentialsProblem::Invalid { .. }),
                "{problem:?}"
            );
            let shown = problem.to_string();
            assert_eq!(
                shown,
                "credentials Secret team-a/meetings is unusable: \
                 the private key is not a PEM-encoded RSA private key"
            );
            let debug = format!("{problem:?}");
            for secret in lines
                .iter()
                .filter(|line| !line.starts_with("-----"))
                .chain([&not_pem])
            {
                assert!(!shown.contains(secret) && !debug.contains(secret));
            }
        }

        api.put(
            NS,
            NAME,
            "3",
            &[
                ("applicationId", [0xff, 0xfe].as_slice()),
                ("privateKey", key.as_bytes()),
            ],
        );
        let problem = store.client(NS, Some(&r)).await.expect_err("not UTF-8");
        assert_eq!(
            problem.to_string(),
            "credentials Secret team-a/meetings is unusable: applicationId is not UTF-8"
        );
    }

    #[tokio::test]
    async fn a_rotation_to_an_unusable_key_is_reported_not_hidden_by_the_old_client() {
        let [key, new_key] = keys();
        let api = FakeApi::default();
        api.put(NS, NAME, "1", &data("app-1", key));
        let store = store(&api, None, Duration::ZERO, NOWHERE);
        let r = reference(NAME);
        store.client(NS, Some(&r)).await.expect("client");

        api.put(NS, NAME, "2", &data("app-1", "not a key"));
        for _ in 0..2 {
            let problem = store.client(NS, Some(&r)).await.expect_err("bad rotation");
            assert!(matches!(problem, CredentialsProblem::Invalid { .. }));
        }
        api.put(NS, NAME, "3", &data("app-1", new_key));
        let fixed = store.client(NS, Some(&r)).await.expect("client");
        assert_eq!(fixed.credentials(), &credentials("app-1", new_key));
    }

    #[tokio::test]
    async fn without_a_reference_the_default_secret_is_used_or_its_absence_explained() {
        let [key, _] = keys();
        let api = FakeApi::default();
        api.put("operator", "default-creds", "1", &data("app-default", key));
        let default: SecretKey = "operator/default-creds".parse().expect("secret key");
        let with_default = store(&api, Some(default), HOUR, NOWHERE);
        let client = with_default.client(NS, None).await.expect("client");
        assert_eq!(client.application_id(), "app-default");

        let without = store(&api, None, HOUR, NOWHERE);
        let problem = without.client(NS, None).await.expect_err("no default");
        assert!(matches!(problem, CredentialsProblem::NoDefault));
        assert!(problem.to_string().contains("--default-credentials"));
        without.forget(NS, None);
        assert_eq!(api.reads(), 1);
    }

    #[tokio::test]
    async fn a_kubernetes_error_names_the_secret() {
        let api = FakeApi::default();
        let store = store(&api, None, HOUR, NOWHERE);
        let problem = store
            .client(NS, Some(&reference(FORBIDDEN)))
            .await
            .expect_err("forbidden");
        assert!(
            matches!(problem, CredentialsProblem::Kube { .. }),
            "{problem:?}"
        );
        let shown = problem.to_string();
        assert!(
            shown.starts_with("reading credentials Secret team-a/forbidden: "),
            "{shown}"
        );
        assert!(shown.contains("forbidden"), "{shown}");
    }

    #[test]
    fn secret_keys_parse_as_namespace_slash_name() {
        let key: SecretKey = "operator/creds".parse().expect("secret key");
        assert_eq!(
            key,
            SecretKey {
                namespace: "operator".into(),
                name: "creds".into()
            }
        );
        for bad in ["creds", "/creds", "operator/", ""] {
            assert!(bad.parse::<SecretKey>().is_err(), "{bad:?}");
        }
    }
}
