//! Application credentials and the RS256 bearer tokens minted from them.

use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// Why credentials cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The application id is empty.
    #[error("the application id is empty")]
    MissingApplicationId,
    /// The private key is not an RSA key in PEM form.
    #[error("the private key is not a PEM-encoded RSA private key")]
    InvalidPrivateKey,
    /// Signing failed.
    #[error("could not sign a token: {0}")]
    Signing(String),
}

/// A Vonage application id and its private key.
///
/// The key is never printed: `Debug` shows only the application id.
#[derive(Clone)]
pub struct Credentials {
    application_id: String,
    key: EncodingKey,
    key_fingerprint: u64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("application_id", &self.application_id)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        self.application_id == other.application_id && self.key_fingerprint == other.key_fingerprint
    }
}

impl Credentials {
    /// Parses credentials from an application id and a PEM private key (PKCS#1 or PKCS#8).
    pub fn new(application_id: &str, private_key_pem: &[u8]) -> Result<Self, CredentialsError> {
        let application_id = application_id.trim();
        if application_id.is_empty() {
            return Err(CredentialsError::MissingApplicationId);
        }
        let key = EncodingKey::from_rsa_pem(private_key_pem)
            .map_err(|_| CredentialsError::InvalidPrivateKey)?;
        Ok(Self {
            application_id: application_id.to_owned(),
            key,
            key_fingerprint: fingerprint(private_key_pem),
        })
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// Mints a token valid for `ttl` from now.
    pub fn mint(&self, ttl: Duration) -> Result<Token, CredentialsError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            application_id: &'a str,
            iat: i64,
            exp: i64,
            jti: String,
        }
        let now = jiff::Timestamp::now();
        let minted = std::time::Instant::now();
        let ttl_secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).min(86_400);
        let claims = Claims {
            application_id: &self.application_id,
            iat: now.as_second(),
            exp: now.as_second() + ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| CredentialsError::Signing(e.to_string()))?;
        // `iat` and `exp` are whole seconds: the service stops honouring the token
        // when its clock reaches `exp`, up to a second before `now + ttl`.
        let past_iat = Duration::from_nanos(u64::try_from(now.subsec_nanosecond()).unwrap_or(0));
        Ok(Token {
            bearer: jwt,
            expires: minted + Duration::from_secs(ttl_secs as u64).saturating_sub(past_iat),
        })
    }
}

fn fingerprint(bytes: &[u8]) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// A signed bearer token and when it stops being valid.
#[derive(Clone)]
pub struct Token {
    bearer: String,
    expires: std::time::Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The `Authorization` header value.
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.bearer)
    }
}

/// Caches one token per credentials and re-mints it shortly before expiry.
pub struct TokenCache {
    credentials: Credentials,
    ttl: Duration,
    refresh_margin: Duration,
    current: Mutex<Option<Token>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("credentials", &self.credentials)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache minting tokens valid for `ttl` (the service honours at most 24 h).
    pub fn new(credentials: Credentials, ttl: Duration) -> Self {
        Self {
            credentials,
            ttl,
            refresh_margin: (ttl / 10).min(Duration::from_secs(60)),
            current: Mutex::new(None),
        }
    }

    /// The credentials behind this cache.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// A token with at least the refresh margin left, minted if needed.
    pub fn token(&self) -> Result<Token, CredentialsError> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = current.as_ref()
            && token.expires > std::time::Instant::now() + self.refresh_margin
        {
            return Ok(token.clone());
        }
        let token = self.credentials.mint(self.ttl)?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// Drops the cached token so the next call mints a new one (after a 401).
    pub fn invalidate(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 2048-bit test key, generated once per test process.
    pub(crate) fn test_key_pem() -> &'static str {
        static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            use rsa::pkcs8::{EncodePrivateKey, LineEnding};
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
            key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
        })
    }

    #[test]
    fn debug_never_shows_the_key() {
        let creds = Credentials::new("app-1", test_key_pem().as_bytes()).unwrap();
        let printed = format!(
            "{creds:?} {:?}",
            TokenCache::new(creds.clone(), Duration::from_secs(60))
        );
        assert!(printed.contains("app-1"));
        assert!(!printed.contains("PRIVATE KEY"));
        assert!(!printed.contains(&test_key_pem()[40..80]));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            Credentials::new(" ", test_key_pem().as_bytes()),
            Err(CredentialsError::MissingApplicationId)
        ));
        assert!(matches!(
            Credentials::new("app", b"-----BEGIN NOTHING-----"),
            Err(CredentialsError::InvalidPrivateKey)
        ));
    }

    #[test]
    fn token_is_cached_until_invalidated() {
        let creds = Credentials::new("app-1", test_key_pem().as_bytes()).unwrap();
        let cache = TokenCache::new(creds, Duration::from_secs(900));
        let a = cache.token().unwrap().header_value();
        let b = cache.token().unwrap().header_value();
        assert_eq!(a, b);
        cache.invalidate();
        let c = cache.token().unwrap().header_value();
        assert_ne!(a, c, "a fresh jti makes every minted token distinct");
    }

    #[test]
    fn token_near_expiry_is_reminted() {
        let creds = Credentials::new("app-1", test_key_pem().as_bytes()).unwrap();
        // With a 1 s lifetime the margin is 100 ms; sleeping past it forces a re-mint.
        let cache = TokenCache::new(creds, Duration::from_secs(1));
        let a = cache.token().unwrap().header_value();
        std::thread::sleep(Duration::from_millis(950));
        let b = cache.token().unwrap().header_value();
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_are_rs256_signed_with_the_documented_claims() {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        let creds = Credentials::new("app-9", test_key_pem().as_bytes()).unwrap();
        let token = creds.mint(Duration::from_secs(900)).unwrap();
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(test_key_pem()).unwrap();
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.required_spec_claims = ["exp".to_string()].into();
        let decoded =
            jsonwebtoken::decode::<serde_json::Value>(&token.bearer, &key, &validation).unwrap();
        let claims = decoded.claims;
        assert_eq!(decoded.header.typ.as_deref(), Some("JWT"));
        assert_eq!(claims["application_id"], "app-9");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900
        );
        assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    }
}
