//! Every reason the operator writes: condition reasons in status and event
//! reasons in Kubernetes Events, each with one meaning for both kinds.

/// Reasons of the `Ready`, `Synced`, `Reconciling` and `Stalled` conditions.
pub mod condition {
    /// Everything matches.
    pub const READY: &str = "Ready";
    /// The create call is in flight or being recovered.
    pub const CREATING: &str = "Creating";
    /// The object is paused: no Meetings API call is made.
    pub const PAUSED: &str = "Paused";
    /// Credentials are missing or unusable.
    pub const CREDENTIALS: &str = "CredentialsInvalid";
    /// The API refused the request; retrying will not help.
    pub const REJECTED: &str = "Rejected";
    /// The API could not be reached or failed; retrying.
    pub const API_ERROR: &str = "ApiError";
    /// The credentials now name another application than the object's.
    pub const APPLICATION_CHANGED: &str = "ApplicationChanged";
    /// The observed remote object no longer exists.
    pub const REMOTE_NOT_FOUND: &str = "RemoteNotFound";
    /// The object is observed, never written.
    pub const OBSERVE_ONLY: &str = "ObserveOnly";
    /// The spec holds a value the operator cannot send.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A room's referenced theme does not exist.
    pub const THEME_NOT_FOUND: &str = "ThemeNotFound";
    /// A room's referenced theme is not ready yet.
    pub const THEME_NOT_READY: &str = "ThemeNotReady";
    /// The room expired.
    pub const EXPIRED: &str = "Expired";
    /// An instant room cannot take the requested change.
    pub const NOT_UPDATABLE: &str = "NotUpdatable";
    /// An adopted room differs in create-only fields.
    pub const CREATE_ONLY_DIFFERENCES: &str = "CreateOnlyDifferences";
    /// A theme's deletion waits until nothing uses it.
    pub const DELETION_BLOCKED: &str = "DeletionBlocked";
    /// More than one theme asks to be the application default.
    pub const DEFAULT_CONFLICT: &str = "DefaultThemeConflict";
    /// A logo breaks a rule, locally or as the API reported at finalize.
    pub const INVALID_LOGO: &str = "InvalidLogo";
    /// The ConfigMap, Secret or key a logo should come from does not exist.
    pub const LOGO_SOURCE_NOT_FOUND: &str = "LogoSourceNotFound";
    /// The ConfigMap or Secret of a logo could not be read; retried.
    pub const LOGO_SOURCE_UNREADABLE: &str = "LogoSourceUnreadable";
    /// A logo upload or finalize failed in a way a retry may fix.
    pub const LOGO_UPLOAD_FAILED: &str = "LogoUploadFailed";

    /// Whether a failure with `reason` needs a change before the object can
    /// progress (kstatus `Stalled`); other failures are `Reconciling`.
    pub fn stalls(reason: &str) -> bool {
        matches!(
            reason,
            REJECTED
                | INVALID_SPEC
                | CREDENTIALS
                | APPLICATION_CHANGED
                | NOT_UPDATABLE
                | REMOTE_NOT_FOUND
                | EXPIRED
                | DELETION_BLOCKED
                | DEFAULT_CONFLICT
                | INVALID_LOGO
                | PAUSED
        )
    }
}

/// Reasons of the Kubernetes Events the operator publishes.
pub mod event {
    /// A remote object was created.
    pub const CREATED: &str = "Created";
    /// A lost create was found and adopted instead of creating again.
    pub const CREATE_RECOVERED: &str = "CreateRecovered";
    /// The spec changed and the remote object was updated.
    pub const UPDATED: &str = "Updated";
    /// The remote object drifted and was corrected.
    pub const DRIFT_CORRECTED: &str = "DriftCorrected";
    /// The remote object was deleted.
    pub const DELETED: &str = "Deleted";
    /// The remote object was left in place on deletion.
    pub const ORPHANED: &str = "Orphaned";
    /// A deleted room was set to expire as soon as the API allows.
    pub const EXPIRY_SET: &str = "ExpirySet";
    /// Deletion waits for users of a theme.
    pub const DELETION_BLOCKED: &str = "DeletionBlocked";
    /// The remote object vanished and was created again.
    pub const RECREATED: &str = "Recreated";
    /// A call failed with an answer retrying cannot fix.
    pub const REJECTED: &str = "Rejected";
    /// Credentials are missing or wrong.
    pub const CREDENTIALS: &str = "CredentialsInvalid";
    /// An existing remote object was adopted.
    pub const ADOPTED: &str = "Adopted";
    /// The theme was made the application default.
    pub const DEFAULT_SET: &str = "DefaultThemeSet";
    /// Logos were uploaded and finalized.
    pub const LOGOS_UPLOADED: &str = "LogosUploaded";
    /// Logos could not be uploaded; the note says which and why.
    pub const LOGO_PROBLEM: &str = "LogoProblem";
    /// A session started in a room (callback).
    pub const SESSION_STARTED: &str = "SessionStarted";
    /// A session ended in a room (callback).
    pub const SESSION_ENDED: &str = "SessionEnded";
    /// A recording of a room is ready (callback).
    pub const RECORDING_READY: &str = "RecordingReady";
}

#[cfg(test)]
mod tests {
    use super::condition;

    #[test]
    fn failures_that_need_a_change_stall_and_the_rest_reconcile() {
        for reason in [
            condition::REJECTED,
            condition::CREDENTIALS,
            condition::DELETION_BLOCKED,
            condition::PAUSED,
        ] {
            assert!(condition::stalls(reason), "{reason}");
        }
        for reason in [
            condition::API_ERROR,
            condition::CREATING,
            condition::THEME_NOT_READY,
            condition::LOGO_UPLOAD_FAILED,
        ] {
            assert!(!condition::stalls(reason), "{reason}");
        }
    }

    /// Every `pub const NAME: &str = "Value";` of one module of this file.
    fn constants(module: &str) -> Vec<(String, String)> {
        let source = include_str!("reasons.rs");
        let start = source
            .find(&format!("pub mod {module} {{"))
            .expect("the module");
        let body = &source[start..];
        let body = &body[..body.find("\n}\n").expect("the module's end")];
        body.lines()
            .filter_map(|line| line.trim().strip_prefix("pub const "))
            .filter_map(|rest| {
                let (name, value) = rest.split_once(": &str = ")?;
                Some((name.to_owned(), value.trim_end_matches(';').to_owned()))
            })
            .collect()
    }

    #[test]
    fn each_reason_string_has_one_name() {
        for module in ["condition", "event"] {
            let constants = constants(module);
            assert!(constants.len() > 10, "{module}: {constants:?}");
            let mut by_value = std::collections::BTreeMap::new();
            for (name, value) in &constants {
                if let Some(other) = by_value.insert(value.clone(), name.clone()) {
                    panic!("{module}: {name} and {other} both mean {value}");
                }
            }
        }
    }
}
