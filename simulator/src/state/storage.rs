//! Simulated logo storage: presigned upload forms, uploaded objects and logo finalisation.

use std::collections::BTreeMap;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::rooms::secs;
use super::themes::{Logo, Theme};
use super::{BUCKET, State};
use crate::errors::ApiError;
use crate::png_check::{LogoKind, check_logo};
use crate::presign;

/// Prefix of temporary (auto-expiring) logo keys.
pub const TEMP_PREFIX: &str = "auto-expiring-temp/";
const LOGO_TYPES: [&str; 3] = ["white", "colored", "favicon"];

/// A presigned form the simulator issued.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PresignedUpload {
    application_id: String,
    expires_at: Timestamp,
}

/// An object held by the simulated storage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredObject {
    /// Application that uploaded it.
    pub application_id: String,
    /// Content type served on download.
    pub content_type: String,
    /// Content.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// Content length.
    pub size: usize,
    /// `white`, `colored` or `favicon` for logos.
    pub logo_type: Option<String>,
    /// Upload time.
    pub uploaded_at: Timestamp,
    /// For temporary uploads, when storage forgets them.
    pub temporary_until: Option<Timestamp>,
}

impl StoredObject {
    pub(crate) fn permanent(app: &str, content_type: &str, bytes: Vec<u8>, now: Timestamp) -> Self {
        Self {
            application_id: app.to_string(),
            content_type: content_type.to_string(),
            size: bytes.len(),
            bytes,
            logo_type: None,
            uploaded_at: now,
            temporary_until: None,
        }
    }
}

/// One entry of `GET /themes/logos-upload-urls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadForm {
    /// Storage URL to POST to.
    pub url: String,
    /// Form fields to send before the file.
    pub fields: BTreeMap<String, String>,
}

/// A storage failure, answered as an S3-style XML error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The form was altered or not issued by us.
    #[error("SignatureDoesNotMatch")]
    SignatureDoesNotMatch,
    /// Policy expired, wrong bucket, or missing credentials.
    #[error("AccessDenied: {0}")]
    AccessDenied(String),
    /// A required part is missing or malformed.
    #[error("InvalidArgument: {0}")]
    InvalidArgument(String),
    /// The file exceeds the storage limit.
    #[error("EntityTooLarge")]
    EntityTooLarge,
    /// Not a multipart/form-data POST.
    #[error("PreconditionFailed: {0}")]
    PreconditionFailed(String),
    /// No such object.
    #[error("NoSuchKey")]
    NoSuchKey,
    /// No such bucket.
    #[error("NoSuchBucket")]
    NoSuchBucket,
}

impl StorageError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::SignatureDoesNotMatch => (
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into(),
            ),
            Self::AccessDenied(m) => (StatusCode::FORBIDDEN, "AccessDenied", m.clone()),
            Self::InvalidArgument(m) => (StatusCode::BAD_REQUEST, "InvalidArgument", m.clone()),
            Self::EntityTooLarge => (
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size".into(),
            ),
            Self::PreconditionFailed(m) => (StatusCode::PRECONDITION_FAILED, "PreconditionFailed", m.clone()),
            Self::NoSuchKey => (StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.".into()),
            Self::NoSuchBucket => (
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist".into(),
            ),
        }
    }

    /// The XML body.
    pub fn xml(&self) -> String {
        let (_, code, message) = self.parts();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId><HostId>simulator</HostId></Error>",
            Uuid::new_v4().simple()
        )
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let (status, _, _) = self.parts();
        (
            status,
            [(header::CONTENT_TYPE, "application/xml")],
            self.xml(),
        )
            .into_response()
    }
}

fn logo_error(key: &str, code: &str, property: Option<&str>) -> Value {
    let mut error = json!({ "logoKey": key, "code": code });
    if let Some(property) = property {
        error["invalidProperty"] = json!(property);
    }
    error
}

impl State {
    /// `GET /themes/logos-upload-urls`: one form per logo type, posting to `storage_url`.
    pub fn issue_upload_forms(
        &mut self,
        app_id: &str,
        now: Timestamp,
        storage_url: &str,
    ) -> Vec<UploadForm> {
        let expires_at = now
            .saturating_add(secs(self.behavior.presign_ttl_secs))
            .unwrap_or(now);
        LOGO_TYPES
            .iter()
            .map(|logo_type| {
                let key = format!("{TEMP_PREFIX}logos/{logo_type}/{}", Uuid::new_v4());
                let fields =
                    presign::form_fields(&self.secret, BUCKET, &key, logo_type, now, expires_at);
                self.uploads.insert(
                    key,
                    PresignedUpload {
                        application_id: app_id.to_string(),
                        expires_at,
                    },
                );
                UploadForm {
                    url: storage_url.to_string(),
                    fields,
                }
            })
            .collect()
    }

    /// Storage `POST`: checks the presigned fields and stores the file.
    pub fn store_upload(
        &mut self,
        bucket: &str,
        fields: &BTreeMap<String, String>,
        file: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        if bucket != BUCKET {
            return Err(StorageError::NoSuchBucket);
        }
        let key = fields.get("key").ok_or_else(|| {
            StorageError::InvalidArgument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.".into())
        })?;
        if !fields.contains_key("Policy") || !fields.contains_key(presign::SIGNATURE_FIELD) {
            return Err(StorageError::AccessDenied("Access Denied".into()));
        }
        if !presign::verify(&self.secret, fields) {
            return Err(StorageError::SignatureDoesNotMatch);
        }
        if fields.get("bucket").map(String::as_str) != Some(bucket) {
            return Err(StorageError::AccessDenied(
                "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\"]"
                    .into(),
            ));
        }
        let upload = self
            .uploads
            .get(key)
            .filter(|u| u.expires_at > now)
            .ok_or_else(|| {
                StorageError::AccessDenied("Invalid according to Policy: Policy expired.".into())
            })?
            .clone();
        let bytes = file.ok_or_else(|| {
            StorageError::InvalidArgument(
                "POST requires exactly one file upload per request.".into(),
            )
        })?;
        if bytes.len() > self.behavior.storage_max_object_bytes {
            return Err(StorageError::EntityTooLarge);
        }
        let ttl = secs(self.behavior.temp_logo_ttl_secs);
        let object = StoredObject {
            application_id: upload.application_id,
            content_type: fields.get("Content-Type").cloned().unwrap_or_default(),
            size: bytes.len(),
            bytes,
            logo_type: fields.get("logoType").cloned(),
            uploaded_at: now,
            temporary_until: Some(now.saturating_add(ttl).unwrap_or(now)),
        };
        self.objects.insert(key.clone(), object);
        Ok(())
    }

    /// A stored object by key, unless it has expired.
    pub fn object(&self, key: &str, now: Timestamp) -> Option<&StoredObject> {
        self.objects
            .get(key)
            .filter(|o| o.temporary_until.is_none_or(|until| until > now))
    }

    /// `PUT /themes/{id}/finalizeLogos`: validates every key, then applies all or none.
    pub fn finalize_logos(
        &mut self,
        app_id: &str,
        theme_id: &str,
        keys: &[String],
        now: Timestamp,
        storage_url: &str,
    ) -> Result<Theme, ApiError> {
        let theme_id = self.theme(app_id, theme_id)?.id;
        let mut errors = Vec::new();
        let mut accepted = Vec::new();
        for key in keys {
            let object = self
                .object(key, now)
                .filter(|o| o.application_id == app_id && o.temporary_until.is_some());
            let logo_type = object.and_then(|o| o.logo_type.clone());
            let (Some(object), Some(logo_type)) = (object, logo_type) else {
                errors.push(logo_error(key, "key_not_found", None));
                continue;
            };
            let kind = if logo_type == "favicon" {
                LogoKind::Favicon
            } else {
                LogoKind::Logo
            };
            let problems = check_logo(&object.bytes, kind);
            if problems.is_empty() {
                accepted.push((key.clone(), logo_type));
            }
            for problem in problems {
                errors.push(logo_error(
                    key,
                    "invalid_logo_properties",
                    Some(problem.as_str()),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::BadRequest {
                message: "could not finalize logos".into(),
                errors,
            });
        }
        for (key, logo_type) in accepted {
            let Some(mut object) = self.objects.remove(&key) else {
                continue;
            };
            let permanent = key.strip_prefix(TEMP_PREFIX).unwrap_or(&key).to_string();
            object.temporary_until = None;
            self.objects.insert(permanent.clone(), object);
            let logo = Logo {
                url: format!("{storage_url}/{permanent}"),
                key: permanent,
            };
            if let Some(theme) = self.themes.get_mut(&theme_id) {
                match logo_type.as_str() {
                    "white" => theme.brand_image_white = Some(logo),
                    "colored" => theme.brand_image_colored = Some(logo),
                    _ => theme.branded_favicon = Some(logo),
                }
            }
        }
        self.themes
            .get(&theme_id)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("could not find theme {theme_id}")))
    }

    pub(crate) fn purge_storage(&mut self, now: Timestamp) {
        self.uploads.retain(|_, u| u.expires_at > now);
        self.objects
            .retain(|_, o| o.temporary_until.is_none_or(|until| until > now));
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::super::test_support::*;
    use super::super::themes::CreateTheme;
    use super::*;
    use crate::png_check::tests::rgba_png;

    const URL: &str = "http://sim/_storage/meetings-sim-logos";

    fn upload(state: &mut State, app: &str, logo_type: &str, bytes: Vec<u8>) -> String {
        let forms = state.issue_upload_forms(app, t0(), URL);
        let form = forms
            .into_iter()
            .find(|f| f.fields["logoType"] == logo_type)
            .unwrap();
        state
            .store_upload(BUCKET, &form.fields, Some(bytes), t0())
            .unwrap();
        form.fields["key"].clone()
    }

    #[test]
    fn forms_cover_three_logo_types() {
        let mut state = state();
        let forms = state.issue_upload_forms(APP, t0(), URL);
        let types: Vec<&str> = forms
            .iter()
            .map(|f| f.fields["logoType"].as_str())
            .collect();
        assert_eq!(types, ["white", "colored", "favicon"]);
        for form in &forms {
            assert!(form.fields["key"].starts_with("auto-expiring-temp/logos/"));
            for name in [
                "Content-Type",
                "bucket",
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Date",
                "X-Amz-Security-Token",
                "Policy",
                "X-Amz-Signature",
            ] {
                assert!(form.fields.contains_key(name), "{name}");
            }
        }
    }

    #[test]
    fn storage_rejects_tampering_and_expiry() {
        let mut state = state();
        let form = state.issue_upload_forms(APP, t0(), URL).remove(0);
        let mut fields = form.fields.clone();
        fields.insert("key".into(), "auto-expiring-temp/logos/white/mine".into());
        assert_eq!(
            state.store_upload(BUCKET, &fields, Some(vec![1]), t0()),
            Err(StorageError::SignatureDoesNotMatch)
        );
        assert_eq!(
            state.store_upload("other", &form.fields, Some(vec![1]), t0()),
            Err(StorageError::NoSuchBucket)
        );
        assert!(matches!(
            state.store_upload(BUCKET, &form.fields, None, t0()),
            Err(StorageError::InvalidArgument(_))
        ));
        let late = t0().saturating_add(SignedDuration::from_hours(2)).unwrap();
        assert!(matches!(
            state.store_upload(BUCKET, &form.fields, Some(vec![1]), late),
            Err(StorageError::AccessDenied(_))
        ));
        assert!(
            StorageError::SignatureDoesNotMatch
                .xml()
                .contains("<Code>SignatureDoesNotMatch</Code>")
        );
    }

    #[test]
    fn finalize_validates_all_then_applies() {
        let mut state = state();
        let theme = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap();
        let tid = theme.id.to_string();
        let white = upload(&mut state, APP, "white", rgba_png(100, 50, true));
        let favicon_bad = upload(&mut state, APP, "favicon", rgba_png(40, 40, true));
        let err = state
            .finalize_logos(
                APP,
                &tid,
                &[white.clone(), favicon_bad.clone(), "nope".into()],
                t0(),
                URL,
            )
            .unwrap_err();
        let body = err.body();
        assert_eq!(body["message"], "could not finalize logos");
        assert_eq!(
            body["errors"][0],
            json!({"logoKey": favicon_bad, "code": "invalid_logo_properties", "invalidProperty": "dimensions"})
        );
        assert_eq!(
            body["errors"][1],
            json!({"logoKey": "nope", "code": "key_not_found"})
        );
        assert!(state.theme(APP, &tid).unwrap().brand_image_white.is_none());
        let theme = state
            .finalize_logos(APP, &tid, std::slice::from_ref(&white), t0(), URL)
            .unwrap();
        let logo = theme.brand_image_white.unwrap();
        assert_eq!(logo.key, white.strip_prefix(TEMP_PREFIX).unwrap());
        assert_eq!(logo.url, format!("{URL}/{}", logo.key));
        assert!(state.object(&logo.key, t0()).is_some());
        // A finalised key cannot be finalised again.
        assert!(
            state
                .finalize_logos(APP, &tid, &[white], t0(), URL)
                .is_err()
        );
    }

    #[test]
    fn uploads_are_private_and_expire() {
        let mut state = state();
        let theme = state
            .create_theme(OTHER, CreateTheme::simple("#fff", "B"))
            .unwrap();
        let key = upload(&mut state, APP, "colored", rgba_png(10, 10, true));
        let err = state
            .finalize_logos(
                OTHER,
                &theme.id.to_string(),
                std::slice::from_ref(&key),
                t0(),
                URL,
            )
            .unwrap_err();
        assert_eq!(err.body()["errors"][0]["code"], "key_not_found");
        let theme = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap();
        let day_later = t0().saturating_add(SignedDuration::from_hours(25)).unwrap();
        state.sweep(day_later);
        let err = state
            .finalize_logos(APP, &theme.id.to_string(), &[key], day_later, URL)
            .unwrap_err();
        assert_eq!(err.body()["errors"][0]["code"], "key_not_found");
    }
}
