//! How a reconcile pass ends: the typed failures the phases return, what
//! comes next, and the errors that abort a pass (the error policy retries
//! those).

use std::time::Duration;

use crate::crd::reasons::{condition, event};
use crate::meetings::{ApiError, ErrorClass};
use crate::services::CredentialsProblem;
use crate::services::kube_ops::WriteError;

/// Why a reconcile could not finish; the error policy requeues it with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes call failed, or the object lacks a field it needs.
    #[error(transparent)]
    Kube(#[from] WriteError),
}

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Self {
        Error::Kube(WriteError::Kube(error))
    }
}

impl Error {
    /// The `reason` label of an aborted reconcile in the metrics:
    /// `Kubernetes<Reason>` for a few Kubernetes API answers,
    /// `KubernetesError` for other Kubernetes failures, or `MissingField`.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            Error::Kube(WriteError::Kube(kube::Error::Api(status))) => match status.code {
                404 => "KubernetesNotFound",
                409 => "KubernetesConflict",
                403 => "KubernetesForbidden",
                422 => "KubernetesInvalid",
                429 => "KubernetesTooManyRequests",
                _ => "KubernetesError",
            },
            Error::Kube(WriteError::Kube(_) | WriteError::Answer(_)) => "KubernetesError",
            Error::Kube(WriteError::MissingField(_)) => "MissingField",
        }
    }
}

/// What kind of failure a phase met; it decides what happens next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Retrying cannot help until the spec changes (an API refusal, a spec
    /// the operator cannot send): wait for a change.
    Rejected,
    /// The credentials are missing or refused: retry with backoff.
    Credentials,
    /// The Meetings API failed or could not be reached: retry with backoff.
    Transient,
    /// Another object must change first (a theme to become Ready): its
    /// watch wakes this one.
    Waiting,
    /// Deletion waits for users of the object: look again with backoff.
    Blocked,
    /// The remote side is not as wanted and only a resync may tell
    /// otherwise (an observed object gone, a default-theme conflict).
    Observed,
}

impl Category {
    /// The `reason` label of a failed pass in the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Rejected => "Rejected",
            Category::Credentials => "Credentials",
            Category::Transient => "Transient",
            Category::Waiting => "Waiting",
            Category::Blocked => "Blocked",
            Category::Observed => "Observed",
        }
    }

    /// When to reconcile again.
    pub fn next(self) -> Next {
        match self {
            Category::Rejected | Category::Waiting => Next::AwaitChange,
            Category::Credentials | Category::Transient | Category::Blocked => Next::Backoff,
            Category::Observed => Next::Resync,
        }
    }
}

/// When a pass asks to be run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// At the object's next resync: its own timer, or the resync cycle
    /// (see `Settings::own_resync`).
    Resync,
    /// After this delay, or at the next resync when that comes first.
    After(Duration),
    /// Only when the object or something it depends on changes.
    AwaitChange,
    /// After the object's next backoff delay.
    Backoff,
}

/// A Warning event a failure publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Event reason.
    pub reason: &'static str,
    /// What the operator was doing.
    pub action: &'static str,
    /// Published only when the status does not already report the failure.
    pub once: bool,
}

/// A phase's failure: the condition reason and message it reports, its
/// category, and the event it publishes.
#[derive(Debug)]
pub struct Failure {
    /// What kind of failure it is.
    pub category: Category,
    /// Condition reason (see [`condition`]).
    pub reason: &'static str,
    /// What happened and what to do, for a person.
    pub message: String,
    /// The event to publish, if any.
    pub warning: Option<Warning>,
    /// When the API class decided the failure (`ServerError`, `RateLimited`, ...).
    pub api_class: Option<ErrorClass>,
}

impl Failure {
    /// A failure of `category` with `reason` and `message` and no event.
    pub fn new(category: Category, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            category,
            reason,
            message: message.into(),
            warning: None,
            api_class: None,
        }
    }

    /// Retrying cannot help until the spec changes.
    pub fn rejected(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Category::Rejected, reason, message)
    }

    /// Waits for another object to change.
    pub fn waiting(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Category::Waiting, reason, message)
    }

    /// Credentials that could not be resolved.
    pub fn credentials(problem: &CredentialsProblem) -> Self {
        Self::new(
            Category::Credentials,
            condition::CREDENTIALS,
            problem.to_string(),
        )
        .warn_once(event::CREDENTIALS, "ResolveCredentials")
    }

    /// A failed Meetings API call made while doing `action`: refusals wait
    /// for a spec change, a 401 is a credentials problem, the rest is retried.
    pub fn api(error: &ApiError, action: &'static str) -> Self {
        let class = error.class();
        let message = format!("{action}: {error}");
        let failure = match class {
            ErrorClass::InvalidRequest | ErrorClass::QuotaExceeded | ErrorClass::Conflict => {
                Self::rejected(condition::REJECTED, message).warn(event::REJECTED, action)
            }
            ErrorClass::Unauthorized => Self::new(
                Category::Credentials,
                condition::CREDENTIALS,
                format!("{message}; check the credentials Secret"),
            )
            .warn(event::CREDENTIALS, action),
            _ => Self::new(Category::Transient, condition::API_ERROR, message),
        };
        Self {
            api_class: Some(class),
            ..failure
        }
    }

    /// Publishes a Warning event with the failure.
    pub fn warn(self, reason: &'static str, action: &'static str) -> Self {
        Self {
            warning: Some(Warning {
                reason,
                action,
                once: false,
            }),
            ..self
        }
    }

    /// Publishes a Warning event unless the status already reports the failure.
    pub fn warn_once(self, reason: &'static str, action: &'static str) -> Self {
        Self {
            warning: Some(Warning {
                reason,
                action,
                once: true,
            }),
            ..self
        }
    }

    /// Whether the cached Meetings client must be dropped (a 401).
    pub fn refused_credentials(&self) -> bool {
        self.api_class == Some(ErrorClass::Unauthorized)
    }

    /// The `reason` label of the failed pass in the metrics: the API error
    /// class when an API call failed, else the category.
    pub fn metric_reason(&self) -> &'static str {
        match self.api_class {
            Some(class) if self.category == Category::Transient => class.as_str(),
            _ => self.category.as_str(),
        }
    }
}

/// Why a pass stopped before its last phase.
#[derive(Debug)]
pub enum Halt {
    /// A phase failed; the failure is reported in status.
    Failed(Failure),
    /// A phase set the final status itself (an expired room that is gone).
    Settled(Next),
    /// The remote object is on a listing page not read yet: the pass ends
    /// without a write or a count, and the page wakes the object again, so
    /// that no pass holds a reconcile slot while pages are read.
    Parked,
    /// A Kubernetes call failed; the error policy retries.
    Aborted(Error),
}

impl From<Failure> for Halt {
    fn from(failure: Failure) -> Self {
        Halt::Failed(failure)
    }
}

impl From<WriteError> for Halt {
    fn from(error: WriteError) -> Self {
        Halt::Aborted(error.into())
    }
}

/// Condition reasons that wait for a spec change at the same generation.
pub const AWAITS_SPEC_CHANGE: [&str; 3] = [
    condition::REJECTED,
    condition::INVALID_SPEC,
    condition::APPLICATION_CHANGED,
];

/// Failure reasons that make `Ready` false even when the remote object exists.
pub const UNREADY_WHEN_EXISTING: [&str; 2] = [condition::EXPIRED, condition::DELETION_BLOCKED];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_failures_are_categorised_by_the_answer() {
        let refused = Failure::api(
            &ApiError::InvalidRequest(crate::meetings::ServiceError::default()),
            "Create",
        );
        assert_eq!(refused.category, Category::Rejected);
        assert_eq!(refused.reason, condition::REJECTED);
        assert_eq!(refused.category.next(), Next::AwaitChange);
        assert!(refused.warning.is_some());

        let down = Failure::api(&ApiError::Timeout, "Observe");
        assert_eq!(down.category, Category::Transient);
        assert_eq!(down.reason, condition::API_ERROR);
        assert_eq!(down.category.next(), Next::Backoff);
        assert_eq!(down.metric_reason(), "TransportError");
        assert!(down.warning.is_none());
        assert!(down.message.starts_with("Observe: "));
    }

    #[test]
    fn kubernetes_errors_have_short_stable_reasons() {
        let missing = Error::from(WriteError::MissingField("name"));
        assert_eq!(missing.metric_reason(), "MissingField");
        let conflict = kube::Error::Api(Box::new(kube::core::Status {
            code: 409,
            ..Default::default()
        }));
        assert_eq!(Error::from(conflict).metric_reason(), "KubernetesConflict");
    }

    #[test]
    fn every_category_says_when_to_come_back() {
        assert_eq!(Category::Waiting.next(), Next::AwaitChange);
        assert_eq!(Category::Blocked.next(), Next::Backoff);
        assert_eq!(Category::Credentials.next(), Next::Backoff);
        assert_eq!(Category::Observed.next(), Next::Resync);
    }
}
