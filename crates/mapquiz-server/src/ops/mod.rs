//! Operations: the metrics registry and its scrape route, the OpenAPI document, demo data, the weekly
//! maintenance jobs, backups and restores.

pub mod backup;
pub mod maintenance;
pub mod metrics;
pub mod seed;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `GET /metrics`, which every role serves.
pub fn metrics_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics::scrape))
}

/// `GET /api/openapi.json`, served with the API.
pub fn document_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(crate::openapi::document))
}
