//! The per-installation path token that authenticates callbacks.
//!
//! The Meetings API does not sign callbacks, so the callback URLs carry an
//! unguessable token: 43 random characters (256 bits), compared in constant
//! time. Unless given explicitly it is generated once and kept in a Secret,
//! so that rooms created before a restart keep working. It is never logged.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::SetupError;
use crate::services::SecretKey;

/// Key of the token in its Secret.
pub const TOKEN_KEY: &str = "token";
/// Length of generated tokens.
const GENERATED_LEN: usize = 43;
/// Shortest token accepted from a flag or a Secret.
const MIN_LEN: usize = 16;

/// A callback token; its `Debug` output hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A fresh random token.
    pub fn generate() -> Self {
        Self(
            rand::rng()
                .sample_iter(&Alphanumeric)
                .take(GENERATED_LEN)
                .map(char::from)
                .collect(),
        )
    }

    /// A token given by the user: at least 16 characters that need no
    /// escaping in a URL path (letters, digits, `-`, `_`, `.`, `~`).
    pub fn parse(text: &str) -> Result<Self, SetupError> {
        let text = text.trim();
        let safe = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
        if text.len() < MIN_LEN || !safe {
            return Err(SetupError::BadToken);
        }
        Ok(Self(text.to_owned()))
    }

    /// The value, for building callback URLs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the token, in time independent of where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let diff = a
            .iter()
            .zip(b)
            .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
        diff == 0
    }
}

/// The token kept in `key`, created with a fresh token when the Secret does
/// not exist (another replica creating it at the same time wins).
pub async fn load_or_create(kube: &kube::Client, key: &SecretKey) -> Result<Token, SetupError> {
    let api: Api<Secret> = Api::namespaced(kube.clone(), &key.namespace);
    let secret_error = |source| SetupError::Secret {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        source,
    };
    for _ in 0..3 {
        if let Some(secret) = api.get_opt(&key.name).await.map_err(secret_error)? {
            let value = secret
                .data
                .as_ref()
                .and_then(|data| data.get(TOKEN_KEY))
                .and_then(|bytes| std::str::from_utf8(&bytes.0).ok())
                .map(Token::parse);
            return match value {
                Some(Ok(token)) => Ok(token),
                _ => Err(SetupError::SecretWithoutToken {
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                }),
            };
        }
        let token = Token::generate();
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(key.name.clone()),
                namespace: Some(key.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "meetings-operator".to_owned(),
                )])),
                ..Default::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(BTreeMap::from([(
                TOKEN_KEY.to_owned(),
                ByteString(token.expose().as_bytes().to_vec()),
            )])),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => {
                tracing::info!(
                    namespace = %key.namespace,
                    name = %key.name,
                    "generated a callback token and stored it in a Secret"
                );
                return Ok(token);
            }
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(source) => return Err(secret_error(source)),
        }
    }
    Err(SetupError::SecretWithoutToken {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_long_random_and_url_safe() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), GENERATED_LEN);
        assert_eq!(Token::parse(a.expose()).ok(), Some(a.clone()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn tokens_are_compared_exactly() {
        let token = Token::parse("0123456789abcdef-_.~").unwrap();
        assert!(token.matches("0123456789abcdef-_.~"));
        assert!(!token.matches("0123456789abcdef-_."));
        assert!(!token.matches("0123456789abcdeF-_.~"));
        assert!(!token.matches(""));
    }

    #[test]
    fn user_tokens_must_be_long_and_path_safe() {
        for bad in ["short", "has/a/slash/in/it/xxxx", "with spaces inside it"] {
            assert!(
                matches!(Token::parse(bad), Err(SetupError::BadToken)),
                "{bad}"
            );
        }
        assert!(Token::parse("  padded-but-long-enough  ").is_ok());
    }
}
