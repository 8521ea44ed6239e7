//! The route table: API routes under every base path, storage, controls and fallbacks.

mod applications;
mod body;
mod control;
mod logos;
mod recordings;
mod rooms;
mod storage;
mod themes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post, put};

use super::errors::ApiError;
use super::observe::observe;
use crate::paths::{API_BASES, CONTROL_PREFIX};
use crate::shared::Ctx;

fn api() -> Router<Ctx> {
    Router::new()
        .route("/rooms", get(rooms::list).post(rooms::create))
        .route("/rooms/{room_id}", get(rooms::get).patch(rooms::update))
        .route(
            "/recordings/{recording_id}",
            get(recordings::get).delete(recordings::delete),
        )
        .route(
            "/sessions/{session_id}/recordings",
            get(recordings::for_session),
        )
        .route("/dial-in-numbers", get(recordings::dial_in_numbers))
        .route("/themes", get(themes::list).post(themes::create))
        .route("/themes/logos-upload-urls", get(logos::upload_urls))
        .route(
            "/themes/{theme_id}",
            get(themes::get)
                .delete(themes::delete)
                .patch(themes::update),
        )
        .route("/themes/{theme_id}/finalizeLogos", put(logos::finalize))
        .route("/themes/{theme_id}/rooms", get(themes::rooms))
        .route("/applications", patch(applications::update))
}

/// The complete application router.
pub(crate) fn router(ctx: Ctx) -> Router {
    let mut router = Router::new();
    for base in API_BASES {
        router = router.nest(base, api());
    }
    router
        .route(
            "/_storage/{bucket}",
            post(storage::upload)
                .fallback(storage::method_not_allowed)
                .layer(DefaultBodyLimit::max(32 * 1024 * 1024)),
        )
        .route("/_storage/{bucket}/{*key}", get(storage::download))
        .nest(CONTROL_PREFIX, control::router())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(from_fn_with_state(ctx.clone(), observe))
        .with_state(ctx)
}
