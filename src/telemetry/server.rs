//! The HTTP endpoints: `/metrics`, `/healthz` and `/readyz`.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::Telemetry;

/// Content type of the OpenMetrics text format.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes, on `telemetry`.
pub fn router(telemetry: Telemetry) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(telemetry)
}

/// Serves [`router`] on `listener` until the process ends.
pub async fn serve(listener: TcpListener, telemetry: Telemetry) -> std::io::Result<()> {
    axum::serve(listener, router(telemetry)).await
}

async fn metrics(State(telemetry): State<Telemetry>) -> Response {
    match telemetry.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "could not render the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not render the metrics\n",
            )
                .into_response()
        }
    }
}

/// The process is alive and its runtime answers.
async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(telemetry): State<Telemetry>) -> (StatusCode, String) {
    let phase = telemetry.health.phase();
    let status = if phase.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, format!("{}\n", phase.as_str()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::telemetry::{KIND_ROOM, Phase};

    async fn start() -> (String, Telemetry) {
        let telemetry = Telemetry::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, telemetry.clone()));
        (base, telemetry)
    }

    async fn get_text(url: &str) -> (u16, String, Option<String>) {
        let response = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, response.text().await.unwrap(), content_type)
    }

    #[tokio::test]
    async fn metrics_are_served_in_the_openmetrics_format() {
        let (base, telemetry) = start().await;
        telemetry
            .metrics
            .reconcile_finished(KIND_ROOM, None, Duration::from_millis(5));
        telemetry.metrics.set_leader(true);
        let (status, body, content_type) = get_text(&format!("{base}/metrics")).await;
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some(OPENMETRICS));
        assert!(body.contains(
            "meetings_operator_reconciles_total{kind=\"MeetingRoom\",result=\"success\"} 1\n"
        ));
        assert!(body.contains("meetings_operator_leader 1\n"));
        assert!(body.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn healthz_answers_while_readyz_follows_the_phase() {
        let (base, telemetry) = start().await;
        assert_eq!(get_text(&format!("{base}/healthz")).await.0, 200);

        let (status, body, _) = get_text(&format!("{base}/readyz")).await;
        assert_eq!((status, body.as_str()), (503, "starting\n"));
        telemetry.health.set(Phase::Standby);
        assert_eq!(get_text(&format!("{base}/readyz")).await.0, 200);
        telemetry.health.set(Phase::Syncing);
        let (status, body, _) = get_text(&format!("{base}/readyz")).await;
        assert_eq!((status, body.as_str()), (503, "syncing\n"));
        telemetry.health.set(Phase::Running);
        assert_eq!(get_text(&format!("{base}/readyz")).await.0, 200);
        telemetry.health.set(Phase::Stopping);
        assert_eq!(get_text(&format!("{base}/readyz")).await.0, 503);

        assert_eq!(get_text(&format!("{base}/nothing")).await.0, 404);
    }
}
