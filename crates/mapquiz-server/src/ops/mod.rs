//! Operations: the metrics registry and its scrape route, and the OpenAPI document.

pub mod metrics;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The operational routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics::scrape)).routes(routes!(crate::openapi::document))
}
