//! Application key material: RSA key generation, PEM handling and token minting.

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::json;

use super::errors::ControlError;

/// An RSA key pair as PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// PKCS#8 private key PEM (`BEGIN PRIVATE KEY`).
    pub private_pem: String,
    /// SPKI public key PEM (`BEGIN PUBLIC KEY`).
    pub public_pem: String,
}

/// Generates a fresh 2048-bit RSA key pair.
pub fn generate_key_pair() -> Result<KeyPair, ControlError> {
    let mut rng = rsa::rand_core::OsRng;
    let private =
        RsaPrivateKey::new(&mut rng, 2048).map_err(|e| ControlError::Key(e.to_string()))?;
    pair_from_private(&private)
}

/// Derives the key pair from a private key PEM (PKCS#8 or PKCS#1).
pub fn key_pair_from_private_pem(pem: &str) -> Result<KeyPair, ControlError> {
    let private = RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| ControlError::Key(format!("unreadable private key: {e}")))?;
    pair_from_private(&private)
}

/// Checks that `pem` is an SPKI RSA public key.
pub fn check_public_pem(pem: &str) -> Result<(), ControlError> {
    RsaPublicKey::from_public_key_pem(pem)
        .map(|_| ())
        .map_err(|e| ControlError::Key(format!("unreadable public key: {e}")))
}

fn pair_from_private(private: &RsaPrivateKey) -> Result<KeyPair, ControlError> {
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| ControlError::Key(e.to_string()))?
        .to_string();
    let public_pem = RsaPublicKey::from(private)
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| ControlError::Key(e.to_string()))?;
    Ok(KeyPair {
        private_pem,
        public_pem,
    })
}

/// Mints an application JWT the way the SDKs do (RS256; `application_id`, `iat`, `jti`, `exp`).
pub fn mint_app_token(
    application_id: &str,
    private_pem: &str,
    issued_at: Timestamp,
    lifetime_secs: i64,
) -> Result<String, ControlError> {
    let key = EncodingKey::from_rsa_pem(private_pem.as_bytes())
        .map_err(|e| ControlError::Key(e.to_string()))?;
    let iat = issued_at.as_second();
    let claims = json!({
        "application_id": application_id,
        "iat": iat,
        "jti": uuid::Uuid::new_v4().to_string(),
        "exp": iat + lifetime_secs,
    });
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map_err(|e| ControlError::Key(e.to_string()))
}

/// Mints the opaque participant token embedded in host URLs (HS256 under a simulator secret).
pub fn mint_participant_token(
    secret: &[u8],
    room_id: &str,
    meeting_code: &str,
    now: Timestamp,
) -> String {
    let iat = now.as_second();
    let claims = json!({
        "room_id": room_id,
        "meeting_code": meeting_code,
        "role": "host",
        "iat": iat,
        "exp": iat + 24 * 3600,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let key = EncodingKey::from_secret(secret);
    // HS256 signing with an in-memory secret cannot fail; fall back to an opaque id regardless.
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .unwrap_or_else(|_| uuid::Uuid::new_v4().simple().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_round_trips() {
        let pair = generate_key_pair().unwrap();
        assert!(pair.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let again = key_pair_from_private_pem(&pair.private_pem).unwrap();
        assert_eq!(again, pair);
        check_public_pem(&pair.public_pem).unwrap();
        assert!(check_public_pem("nonsense").is_err());
        assert!(key_pair_from_private_pem("nonsense").is_err());
    }

    #[test]
    fn participant_tokens_differ_each_time() {
        let now = Timestamp::now();
        let a = mint_participant_token(b"secret", "r", "123456789", now);
        let b = mint_participant_token(b"secret", "r", "123456789", now);
        assert_ne!(a, b);
        assert_eq!(a.split('.').count(), 3);
    }
}
