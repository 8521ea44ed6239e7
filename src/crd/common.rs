//! Types shared by both custom resources.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Secret in the object's own namespace holding Meetings API credentials.
///
/// The Secret holds the application id under `applicationId` and the PEM
/// private key under `privateKey` (the key names can be changed here).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsRef {
    /// Name of the Secret (same namespace; never another namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub application_id_key: Option<String>,
    /// Key holding the PEM private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub private_key_key: Option<String>,
}

impl CredentialsRef {
    /// Default key of the application id.
    pub const APPLICATION_ID_KEY: &'static str = "applicationId";
    /// Default key of the private key.
    pub const PRIVATE_KEY_KEY: &'static str = "privateKey";

    /// The key holding the application id.
    pub fn application_id_key(&self) -> &str {
        self.application_id_key
            .as_deref()
            .unwrap_or(Self::APPLICATION_ID_KEY)
    }

    /// The key holding the private key.
    pub fn private_key_key(&self) -> &str {
        self.private_key_key
            .as_deref()
            .unwrap_or(Self::PRIVATE_KEY_KEY)
    }
}

/// A reference to another object of the same namespace by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectRef {
    /// Object name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A create call whose answer has not been recorded yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingCreate {
    /// When the create was attempted (RFC 3339).
    pub started_at: String,
    /// Application the create was sent to.
    pub application_id: String,
}

/// Whether the operator writes to the Meetings API for an object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete the remote object to match the spec.
    #[default]
    Managed,
    /// Never write to the API; mirror the remote object (by `adoptId`) into status.
    ObserveOnly,
}

/// A key of a ConfigMap (`binaryData` or `data`) or of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    /// Object name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the object.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}
