//! Per-application JWT verification and the registry of application keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::errors::{ApiError, ControlError};
use super::keys::check_public_pem;

/// Lifetime assumed for a token without `exp`, in seconds.
const DEFAULT_LIFETIME_SECS: i64 = 15 * 60;
/// How far in the future `iat`/`nbf` may lie (clock skew), in seconds.
const SKEW_SECS: i64 = 60;

#[derive(Clone)]
struct RegisteredKey {
    public_pem: String,
    decoding: DecodingKey,
}

/// Public keys per application id; one application may hold several during rotation.
#[derive(Default)]
pub struct KeyRing {
    keys: Mutex<HashMap<String, Vec<RegisteredKey>>>,
    /// Tokens already verified: token → (application id, honoured until, lifetime cap used).
    verified: Mutex<HashMap<String, (String, i64, u64)>>,
    /// Bumped on every key change, so verifications racing a change are not cached.
    generation: AtomicU64,
}

/// Verified tokens remembered before the cache starts over.
const VERIFIED_CAPACITY: usize = 10_000;

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.lock();
        f.debug_struct("KeyRing")
            .field("applications", &keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<RegisteredKey>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, i64, u64)>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys_changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.verified().clear();
    }

    /// Adds a public key for `application_id`, keeping any existing ones.
    pub fn add(&self, application_id: &str, public_pem: &str) -> Result<(), ControlError> {
        check_public_pem(public_pem)?;
        let decoding = DecodingKey::from_rsa_pem(public_pem.as_bytes())
            .map_err(|e| ControlError::Key(e.to_string()))?;
        self.keys_changed();
        self.lock()
            .entry(application_id.to_string())
            .or_default()
            .push(RegisteredKey {
                public_pem: public_pem.to_string(),
                decoding,
            });
        Ok(())
    }

    /// Replaces every key of `application_id` with `public_pem`.
    pub fn replace(&self, application_id: &str, public_pem: &str) -> Result<(), ControlError> {
        self.revoke(application_id);
        self.add(application_id, public_pem)
    }

    /// Removes every key of `application_id`; its tokens stop verifying.
    pub fn revoke(&self, application_id: &str) {
        self.keys_changed();
        self.lock().insert(application_id.to_string(), Vec::new());
    }

    /// The public keys currently registered for `application_id`.
    pub fn public_keys(&self, application_id: &str) -> Vec<String> {
        self.lock()
            .get(application_id)
            .map(|keys| keys.iter().map(|k| k.public_pem.clone()).collect())
            .unwrap_or_default()
    }

    /// Verifies the `Authorization` header value and returns the application id.
    pub fn authenticate(
        &self,
        header: Option<&str>,
        now: Timestamp,
        max_lifetime_secs: u64,
    ) -> Result<String, ApiError> {
        let header = header.ok_or(ApiError::MissingAuth)?;
        let token = bearer_token(header).ok_or(ApiError::Unauthorized)?;
        let now = now.as_second();
        if let Some((app, until, max)) = self.verified().get(token)
            && *max == max_lifetime_secs
        {
            return if now < *until {
                Ok(app.clone())
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| ApiError::Unauthorized)?;
        let application_id = claims
            .get("application_id")
            .and_then(Value::as_str)
            .ok_or(ApiError::Unauthorized)?
            .to_string();
        let keys: Vec<DecodingKey> = self
            .lock()
            .get(&application_id)
            .map(|keys| keys.iter().map(|k| k.decoding.clone()).collect())
            .unwrap_or_default();
        let verified = keys.iter().any(|key| signature_valid(token, key));
        if !verified {
            return Err(ApiError::Unauthorized);
        }
        let until = check_claims(&claims, now, max_lifetime_secs)?;
        let mut verified = self.verified();
        if self.generation.load(Ordering::SeqCst) == generation {
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(
                token.to_string(),
                (application_id.clone(), until, max_lifetime_secs),
            );
        }
        Ok(application_id)
    }
}

fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn signature_valid(token: &str, key: &DecodingKey) -> bool {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).is_ok()
}

/// Checks `iat`, `jti`, `nbf` and `exp` against `now` (seconds); returns when the token
/// stops being honoured.
fn check_claims(
    claims: &Map<String, Value>,
    now: i64,
    max_lifetime_secs: u64,
) -> Result<i64, ApiError> {
    let number = |name: &str| claims.get(name).and_then(Value::as_f64).map(|v| v as i64);
    let iat = number("iat").ok_or(ApiError::Unauthorized)?;
    let jti_ok = claims
        .get("jti")
        .and_then(Value::as_str)
        .is_some_and(|jti| !jti.is_empty());
    if !jti_ok || iat > now + SKEW_SECS {
        return Err(ApiError::Unauthorized);
    }
    if number("nbf").is_some_and(|nbf| nbf > now + SKEW_SECS) {
        return Err(ApiError::Unauthorized);
    }
    let max_lifetime = i64::try_from(max_lifetime_secs).unwrap_or(i64::MAX);
    let exp = match claims.get("exp") {
        None => iat.saturating_add(DEFAULT_LIFETIME_SECS),
        Some(value) => value
            .as_f64()
            .map(|v| v as i64)
            .ok_or(ApiError::Unauthorized)?,
    };
    let honoured_until = exp.min(iat.saturating_add(max_lifetime));
    if now >= honoured_until {
        return Err(ApiError::Unauthorized);
    }
    Ok(honoured_until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate_key_pair, mint_app_token};
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn claim_rules() {
        let now: i64 = 1_700_000_000;
        let day: i64 = 24 * 3600;
        let max: u64 = 24 * 3600;
        let ok = claims(json!({"iat": now - 10, "jti": "x", "exp": now + 100}));
        assert!(check_claims(&ok, now, max).is_ok());
        let expired = claims(json!({"iat": now - 100, "jti": "x", "exp": now - 1}));
        assert_eq!(
            check_claims(&expired, now, max),
            Err(ApiError::Unauthorized)
        );
        let no_jti = claims(json!({"iat": now, "exp": now + 100}));
        assert!(check_claims(&no_jti, now, max).is_err());
        let future = claims(json!({"iat": now + 600, "jti": "x", "exp": now + 900}));
        assert!(check_claims(&future, now, max).is_err());
        // exp beyond 24h is honoured only up to iat + 24h.
        let long = claims(json!({"iat": now - day, "jti": "x", "exp": now + day}));
        assert!(check_claims(&long, now, max).is_err());
        let long_fresh = claims(json!({"iat": now - 10, "jti": "x", "exp": now + 2 * day}));
        assert!(check_claims(&long_fresh, now, max).is_ok());
        // Without exp a token lives 15 minutes.
        let no_exp = claims(json!({"iat": now - 901, "jti": "x"}));
        assert!(check_claims(&no_exp, now, max).is_err());
    }

    #[test]
    fn authenticate_checks_header_signature_and_tenant() {
        let ring = KeyRing::default();
        let a = generate_key_pair().unwrap();
        let b = generate_key_pair().unwrap();
        ring.add("app-a", &a.public_pem).unwrap();
        ring.add("app-b", &b.public_pem).unwrap();
        let now = Timestamp::now();
        let max = 24 * 3600;
        assert_eq!(
            ring.authenticate(None, now, max),
            Err(ApiError::MissingAuth)
        );
        assert_eq!(
            ring.authenticate(Some("Basic abc"), now, max),
            Err(ApiError::Unauthorized)
        );
        let token = mint_app_token("app-a", &a.private_pem, now, 900).unwrap();
        let header = format!("Bearer {token}");
        assert_eq!(
            ring.authenticate(Some(&header), now, max).as_deref(),
            Ok("app-a")
        );
        // Cached, yet still expires.
        let later = now
            .saturating_add(jiff::SignedDuration::from_mins(16))
            .unwrap();
        assert_eq!(
            ring.authenticate(Some(&header), later, max),
            Err(ApiError::Unauthorized)
        );
        assert!(ring.authenticate(Some(&header), now, max).is_ok());
        // Signed with b's key but claiming a: rejected.
        let forged = mint_app_token("app-a", &b.private_pem, now, 900).unwrap();
        assert!(
            ring.authenticate(Some(&format!("Bearer {forged}")), now, max)
                .is_err()
        );
        // Rotation: old key stops working.
        ring.replace("app-a", &b.public_pem).unwrap();
        assert!(ring.authenticate(Some(&header), now, max).is_err());
        assert!(
            ring.authenticate(Some(&format!("Bearer {forged}")), now, max)
                .is_ok()
        );
        ring.revoke("app-a");
        assert!(
            ring.authenticate(Some(&format!("Bearer {forged}")), now, max)
                .is_err()
        );
    }
}
