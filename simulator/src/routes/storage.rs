//! The simulated storage service: presigned multipart POST uploads and downloads.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::shared::Ctx;
use crate::state::StorageError;

/// Canonical spelling of known form fields (S3 treats field names case-insensitively).
fn canonical(name: &str) -> String {
    const KNOWN: [&str; 10] = [
        "Content-Type",
        "key",
        "logoType",
        "bucket",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Security-Token",
        "Policy",
        "X-Amz-Signature",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |k| k.to_string())
}

/// `POST /_storage/{bucket}` (storageUpload): every field, then `file`; no Authorization.
pub(crate) async fn upload(
    State(ctx): State<Ctx>,
    Path(bucket): Path<String>,
    req: Request,
) -> Response {
    match store(&ctx, &bucket, req).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn store(ctx: &Ctx, bucket: &str, req: Request) -> Result<(), StorageError> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return Err(StorageError::InvalidArgument(
            "Unsupported Authorization Type".into(),
        ));
    }
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|_| {
        StorageError::PreconditionFailed(
            "Bucket POST must be of the enclosure-type multipart/form-data".into(),
        )
    })?;
    let mut fields = BTreeMap::new();
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                return Err(StorageError::InvalidArgument(
                    "malformed multipart body".into(),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let bytes = field
                .bytes()
                .await
                .map_err(|_| StorageError::InvalidArgument("malformed file part".into()))?;
            file = Some(bytes.to_vec());
            // Like S3, anything after the file part is ignored.
            break;
        }
        let value = field
            .text()
            .await
            .map_err(|_| StorageError::InvalidArgument(format!("malformed field {name}")))?;
        fields.entry(canonical(&name)).or_insert(value);
    }
    ctx.with_state(|state, now| state.store_upload(bucket, &fields, file, now))
}

/// Other methods on the upload URL.
pub(crate) async fn method_not_allowed() -> Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>MethodNotAllowed</Code><Message>The specified method is not allowed against this resource.</Message></Error>";
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "application/xml")],
        body,
    )
        .into_response()
}

/// `GET /_storage/{bucket}/{key}`: downloads a stored object.
pub(crate) async fn download(
    State(ctx): State<Ctx>,
    Path((bucket, key)): Path<(String, String)>,
) -> Response {
    if bucket != crate::state::BUCKET {
        return StorageError::NoSuchBucket.into_response();
    }
    let object = ctx.with_state(|state, now| state.object(&key, now).cloned());
    match object {
        Some(object) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, object.content_type)],
            object.bytes,
        )
            .into_response(),
        None => StorageError::NoSuchKey.into_response(),
    }
}
