//! Control endpoints for applications, keys and tokens.

use axum::Json;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{parse, to_json};
use crate::control::DEFAULT_TOKEN_TTL_SECS;
use crate::errors::ControlError;
use crate::shared::Ctx;
use crate::state::values::CallbackUrls;

/// `GET /_sim/applications`.
pub(crate) async fn list(State(ctx): State<Ctx>) -> Json<Value> {
    let default = ctx.default_app_id();
    let apps: Vec<Value> = ctx.with_state(|state, _| {
        state
            .application_ids()
            .iter()
            .filter_map(|id| state.application(id))
            .map(|app| {
                let mut value = to_json(app);
                value["is_default"] = json!(default.as_deref() == Some(app.id.as_str()));
                value
            })
            .collect()
    });
    let apps = apps
        .into_iter()
        .map(|mut app| {
            let id = app["id"].as_str().unwrap_or_default().to_string();
            app["private_key_known"] = json!(ctx.credentials(&id).is_some());
            app["public_keys"] = json!(ctx.keys.public_keys(&id));
            app
        })
        .collect();
    Json(Value::Array(apps))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AddApplication {
    application_id: Option<String>,
    private_key_pem: Option<String>,
    public_key_pem: Option<String>,
    callback_urls: Option<CallbackUrls>,
}

/// `POST /_sim/applications`: generate keys, or register a supplied private or public key.
pub(crate) async fn add(State(ctx): State<Ctx>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let req: AddApplication = parse(&body)?;
    let answer = match (req.private_key_pem, req.public_key_pem) {
        (Some(private), _) => {
            to_json(&ctx.add_application_with_private_key(req.application_id, &private)?)
        }
        (None, Some(public)) => {
            json!({ "application_id": ctx.add_application_with_public_key(req.application_id, &public)? })
        }
        (None, None) => to_json(&ctx.add_generated_application(req.application_id).await?),
    };
    if let (Some(urls), Some(id)) = (req.callback_urls, answer["application_id"].as_str()) {
        ctx.with_state(|state, _| state.set_application_callbacks(id, urls))?;
    }
    Ok(Json(answer))
}

/// `PUT /_sim/applications/{id}/callback-urls`.
pub(crate) async fn set_callbacks(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let urls: CallbackUrls = parse(&body)?;
    ctx.with_state(|state, _| state.set_application_callbacks(&id, urls.clone()))?;
    Ok(Json(to_json(&urls)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RotateQuery {
    keep_old: bool,
}

/// `POST /_sim/applications/{id}/keys/rotate[?keep_old=true]`: new key pair.
pub(crate) async fn rotate(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(query): Query<RotateQuery>,
) -> Result<Json<Value>, ControlError> {
    Ok(Json(to_json(&ctx.rotate_key(&id, query.keep_old).await?)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetKey {
    public_key_pem: String,
}

/// `PUT /_sim/applications/{id}/keys`: replace the keys with a public key.
pub(crate) async fn set_key(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let req: SetKey = parse(&body)?;
    ctx.set_public_key(&id, &req.public_key_pem)?;
    Ok(Json(json!({ "application_id": id })))
}

/// `DELETE /_sim/applications/{id}/keys`: revoke every key.
pub(crate) async fn revoke(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ControlError> {
    ctx.revoke_keys(&id)?;
    Ok(Json(json!({ "application_id": id, "revoked": true })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TokenQuery {
    application_id: Option<String>,
    ttl_secs: Option<i64>,
}

/// `GET /_sim/token[?application_id=..&ttl_secs=..]`: a valid bearer token.
pub(crate) async fn token(
    State(ctx): State<Ctx>,
    Query(query): Query<TokenQuery>,
) -> Result<Json<Value>, ControlError> {
    let ttl = query.ttl_secs.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    let token = ctx.mint_token(query.application_id.as_deref(), ttl)?;
    Ok(Json(json!({ "token": token, "expires_in": ttl })))
}
