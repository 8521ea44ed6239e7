//! Every operation of the Meetings API contract, as typed methods.

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::client::{Auth, Call, MeetingsClient};
use super::error::ApiError;
use super::models::{
    Application, ApplicationUpdate, CreateRoom, CreateTheme, DialInNumber, FinalizeLogos,
    LogoUploadTarget, Recording, Room, RoomUpdate, SessionRecordings, Theme, ThemeUpdate,
    UpdateDetails,
};
use super::rate_limit::Priority;
use super::retry::Idempotency;

impl MeetingsClient {
    fn call(&self, operation: &'static str, method: Method, segments: &[&str]) -> Call<'static> {
        let idempotency = if method == Method::POST {
            Idempotency::NotIdempotent
        } else {
            Idempotency::Idempotent
        };
        Call {
            operation,
            method,
            url: self.url(segments),
            json: None,
            multipart: None,
            idempotency,
            auth: Auth::Bearer,
            priority: Priority::Foreground,
        }
    }

    async fn fetch<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ApiError> {
        let operation = call.operation;
        let answer = self.execute(call).await?;
        Self::decode(operation, &answer)
    }

    /// `GET /rooms/{id}`.
    pub async fn get_room(&self, room_id: &str) -> Result<Room, ApiError> {
        self.fetch(self.call("getRoom", Method::GET, &["rooms", room_id]))
            .await
    }

    /// `POST /rooms`.
    ///
    /// Never retried once it may have reached the server: on a timeout, a 5xx
    /// or a broken connection ([`ApiError::may_have_committed`]) the room may
    /// exist. Callers stay exactly-once by recording their intent before the
    /// call and looking the room up (e.g. by a marker they put in `metadata`)
    /// before any second create.
    pub async fn create_room(&self, room: &CreateRoom) -> Result<Room, ApiError> {
        let mut call = self.call("createRoom", Method::POST, &["rooms"]);
        call.json = Some(Self::json(room)?);
        self.fetch(call).await
    }

    /// `PATCH /rooms/{id}` with only the fields set in `update` (long-term rooms only).
    pub async fn update_room(&self, room_id: &str, update: &RoomUpdate) -> Result<Room, ApiError> {
        let mut call = self.call("updateRoom", Method::PATCH, &["rooms", room_id]);
        call.json = Some(Self::json(&UpdateDetails {
            update_details: update,
        })?);
        self.fetch(call).await
    }

    /// `GET /recordings/{id}`.
    pub async fn get_recording(&self, recording_id: &str) -> Result<Recording, ApiError> {
        self.fetch(self.call("getRecording", Method::GET, &["recordings", recording_id]))
            .await
    }

    /// `DELETE /recordings/{id}` (only uploaded recordings can be deleted).
    pub async fn delete_recording(&self, recording_id: &str) -> Result<(), ApiError> {
        self.execute(self.call(
            "deleteRecording",
            Method::DELETE,
            &["recordings", recording_id],
        ))
        .await
        .map(drop)
    }

    /// `GET /sessions/{id}/recordings`.
    pub async fn session_recordings(&self, session_id: &str) -> Result<Vec<Recording>, ApiError> {
        let page: SessionRecordings = self
            .fetch(self.call(
                "getSessionRecordings",
                Method::GET,
                &["sessions", session_id, "recordings"],
            ))
            .await?;
        Ok(page.embedded.map(|e| e.recordings).unwrap_or_default())
    }

    /// `GET /dial-in-numbers`.
    pub async fn dial_in_numbers(&self) -> Result<Vec<DialInNumber>, ApiError> {
        self.fetch(self.call("getDialInNumbers", Method::GET, &["dial-in-numbers"]))
            .await
    }

    /// `GET /themes`; the service answered `{}` or nothing when there were none.
    pub async fn themes(&self) -> Result<Vec<Theme>, ApiError> {
        let answer = self
            .execute(self.call("getThemes", Method::GET, &["themes"]))
            .await?;
        let value: serde_json::Value = if answer.body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Array(Vec::new())
        } else {
            Self::decode("getThemes", &answer)?
        };
        match value {
            serde_json::Value::Object(map) if map.is_empty() => Ok(Vec::new()),
            other => serde_json::from_value(other).map_err(|e| ApiError::Decode {
                operation: "getThemes",
                message: e.to_string(),
            }),
        }
    }

    /// `GET /themes/{id}`.
    pub async fn get_theme(&self, theme_id: &str) -> Result<Theme, ApiError> {
        self.fetch(self.call("getThemeById", Method::GET, &["themes", theme_id]))
            .await
    }

    /// `POST /themes`. Not retried once it may have reached the server; since
    /// theme names are unique per application, a caller that sends a name
    /// finds a lost create by that name (a repeat answers 409).
    pub async fn create_theme(&self, theme: &CreateTheme) -> Result<Theme, ApiError> {
        let mut call = self.call("createTheme", Method::POST, &["themes"]);
        call.json = Some(Self::json(theme)?);
        self.fetch(call).await
    }

    /// `PATCH /themes/{id}` with only the fields set in `update`.
    pub async fn update_theme(
        &self,
        theme_id: &str,
        update: &ThemeUpdate,
    ) -> Result<Theme, ApiError> {
        let mut call = self.call("updateTheme", Method::PATCH, &["themes", theme_id]);
        call.json = Some(Self::json(&UpdateDetails {
            update_details: update,
        })?);
        self.fetch(call).await
    }

    /// `DELETE /themes/{id}`; with `force` the theme goes even while rooms or the
    /// application default use it.
    pub async fn delete_theme(&self, theme_id: &str, force: bool) -> Result<(), ApiError> {
        let mut call = self.call("deleteTheme", Method::DELETE, &["themes", theme_id]);
        if force {
            call.url.query_pairs_mut().append_pair("force", "true");
        }
        self.execute(call).await.map(drop)
    }

    /// `GET /themes/logos-upload-urls`: one presigned target per logo type.
    pub async fn logo_upload_targets(&self) -> Result<Vec<LogoUploadTarget>, ApiError> {
        self.fetch(self.call(
            "getUploadUrlsForTheme",
            Method::GET,
            &["themes", "logos-upload-urls"],
        ))
        .await
    }

    /// Uploads a PNG to a presigned target: `multipart/form-data` with every
    /// presigned field, then the file last, and no `Authorization` header.
    pub async fn upload_logo(
        &self,
        target: &LogoUploadTarget,
        png: bytes::Bytes,
    ) -> Result<(), ApiError> {
        let url = url::Url::parse(&target.url)
            .map_err(|e| ApiError::Config(format!("storage URL {:?}: {e}", target.url)))?;
        let form = || {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in &target.fields {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                form = form.text(name.clone(), text);
            }
            let part = reqwest::multipart::Part::stream(png.clone())
                .file_name("logo.png")
                .mime_str("image/png")
                .unwrap_or_else(|_| reqwest::multipart::Part::stream(png.clone()));
            form.part("file", part)
        };
        self.execute(Call {
            operation: "storageUpload",
            method: Method::POST,
            url,
            json: None,
            multipart: Some(&form),
            idempotency: Idempotency::Idempotent,
            auth: Auth::None,
            priority: Priority::Foreground,
        })
        .await
        .map(drop)
    }

    /// `PUT /themes/{id}/finalizeLogos` for several uploaded keys at once.
    pub async fn finalize_logos(&self, theme_id: &str, keys: &[String]) -> Result<(), ApiError> {
        let mut call = self.call(
            "finalizeLogosForTheme",
            Method::PUT,
            &["themes", theme_id, "finalizeLogos"],
        );
        call.json = Some(Self::json(&FinalizeLogos { keys })?);
        self.execute(call).await.map(drop)
    }

    /// `PATCH /applications` setting the default theme. The API cannot read it
    /// back: the answer is the only confirmation.
    pub async fn set_default_theme(&self, theme_id: &str) -> Result<Application, ApiError> {
        let mut call = self.call("updateApplication", Method::PATCH, &["applications"]);
        call.json = Some(Self::json(&UpdateDetails {
            update_details: ApplicationUpdate {
                default_theme_id: theme_id,
            },
        })?);
        self.fetch(call).await
    }
}
