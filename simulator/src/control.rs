//! Control operations shared by the Rust test API and the `/_sim` HTTP endpoints.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::errors::ControlError;
use super::keys::{KeyPair, generate_key_pair, key_pair_from_private_pem, mint_app_token};
use super::shared::Shared;

/// Default lifetime of tokens minted by the simulator, in seconds.
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 15 * 60;

/// What a client needs to call the API as one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCredentials {
    /// Application id (`application_id` claim).
    pub application_id: String,
    /// PKCS#8 private key PEM used to sign tokens.
    pub private_key_pem: String,
}

async fn generate() -> Result<KeyPair, ControlError> {
    tokio::task::spawn_blocking(generate_key_pair)
        .await
        .map_err(|e| ControlError::Key(format!("key generation task failed: {e}")))?
}

impl Shared {
    fn require_app(&self, app: &str) -> Result<(), ControlError> {
        if self.lock().application(app).is_some() {
            Ok(())
        } else {
            Err(ControlError::NotFound(format!("application {app}")))
        }
    }

    fn remember_private_key(&self, app: &str, pem: Option<String>) {
        let mut keys = self.private_keys.lock().unwrap_or_else(|e| e.into_inner());
        match pem {
            Some(pem) => keys.insert(app.to_string(), pem),
            None => keys.remove(app),
        };
    }

    fn register(
        &self,
        id: Option<String>,
        public_pem: &str,
        private_pem: Option<String>,
    ) -> Result<String, ControlError> {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if id.trim().is_empty() {
            return Err(ControlError::Invalid(
                "application id must not be empty".into(),
            ));
        }
        super::keys::check_public_pem(public_pem)?;
        self.with_state(|state, _| state.add_application(id.clone()).map(|_| ()))?;
        self.keys.add(&id, public_pem)?;
        self.remember_private_key(&id, private_pem);
        Ok(id)
    }

    /// Registers an application with a freshly generated key pair.
    pub(crate) async fn add_generated_application(
        &self,
        id: Option<String>,
    ) -> Result<AppCredentials, ControlError> {
        let pair = generate().await?;
        let application_id = self.register(id, &pair.public_pem, Some(pair.private_pem.clone()))?;
        Ok(AppCredentials {
            application_id,
            private_key_pem: pair.private_pem,
        })
    }

    /// Registers an application whose private key the caller supplies.
    pub(crate) fn add_application_with_private_key(
        &self,
        id: Option<String>,
        private_pem: &str,
    ) -> Result<AppCredentials, ControlError> {
        let pair = key_pair_from_private_pem(private_pem)?;
        let application_id = self.register(id, &pair.public_pem, Some(pair.private_pem.clone()))?;
        Ok(AppCredentials {
            application_id,
            private_key_pem: pair.private_pem,
        })
    }

    /// Registers an application known only by its public key.
    pub(crate) fn add_application_with_public_key(
        &self,
        id: Option<String>,
        public_pem: &str,
    ) -> Result<String, ControlError> {
        self.register(id, public_pem, None)
    }

    /// Issues a new key pair; old keys stop working unless `keep_old`.
    pub(crate) async fn rotate_key(
        &self,
        app: &str,
        keep_old: bool,
    ) -> Result<AppCredentials, ControlError> {
        self.require_app(app)?;
        let pair = generate().await?;
        if keep_old {
            self.keys.add(app, &pair.public_pem)?;
        } else {
            self.keys.replace(app, &pair.public_pem)?;
        }
        self.remember_private_key(app, Some(pair.private_pem.clone()));
        Ok(AppCredentials {
            application_id: app.to_string(),
            private_key_pem: pair.private_pem,
        })
    }

    /// Replaces an application's keys with a caller-supplied public key.
    pub(crate) fn set_public_key(&self, app: &str, public_pem: &str) -> Result<(), ControlError> {
        self.require_app(app)?;
        self.keys.replace(app, public_pem)?;
        self.remember_private_key(app, None);
        Ok(())
    }

    /// Removes every key of an application: all its tokens get 401.
    pub(crate) fn revoke_keys(&self, app: &str) -> Result<(), ControlError> {
        self.require_app(app)?;
        self.keys.revoke(app);
        self.remember_private_key(app, None);
        Ok(())
    }

    /// The application used when a control call names none.
    pub(crate) fn default_app_id(&self) -> Option<String> {
        self.default_application
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Credentials of an application whose private key the simulator knows.
    pub(crate) fn credentials(&self, app: &str) -> Option<AppCredentials> {
        let keys = self.private_keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(app).map(|pem| AppCredentials {
            application_id: app.to_string(),
            private_key_pem: pem.clone(),
        })
    }

    /// Mints a valid token for `app` (default application when `None`).
    pub(crate) fn mint_token(
        &self,
        app: Option<&str>,
        ttl_secs: i64,
    ) -> Result<String, ControlError> {
        let app = match app {
            Some(app) => app.to_string(),
            None => self
                .default_app_id()
                .ok_or_else(|| ControlError::NotFound("default application".into()))?,
        };
        self.require_app(&app)?;
        let credentials = self.credentials(&app).ok_or_else(|| {
            ControlError::Conflict(format!("the private key of application {app} is unknown"))
        })?;
        let sim_time = self.lock().behavior.jwt_uses_sim_clock;
        let now = if sim_time {
            self.clock.now()
        } else {
            Timestamp::now()
        };
        mint_app_token(&app, &credentials.private_key_pem, now, ttl_secs)
    }

    /// Moves the clock and applies the consequences immediately.
    pub(crate) fn advance_clock(&self, by: SignedDuration) -> Timestamp {
        self.clock.advance(by);
        self.with_state(|_, now| now)
    }

    /// Sets the clock and applies the consequences immediately.
    pub(crate) fn set_clock(&self, to: Timestamp) -> Timestamp {
        self.clock.set(to);
        self.with_state(|_, now| now)
    }
}
