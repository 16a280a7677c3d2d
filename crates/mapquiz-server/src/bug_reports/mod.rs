//! Bug reports (protocol §1.8): `POST /api/bug-reports` stores the report and answers 201; the
//! [`worker`] then delivers it to GitHub as an issue, retrying while GitHub fails.

pub mod github;
pub mod worker;

use crate::error::{ApiError, json};
use crate::http::client_ip::ClientIp;
use crate::http::json::JsonBody;
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use mapquiz_domain::bug_reports::{BugReportInput, MAX_FIELD_CHARS, truncate_chars};
use mapquiz_domain::new_id;
use mapquiz_store::NewBugReport;
use serde::Serialize;
use serde_json::Map;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The `url` stored when the client sent none and the request has no `Referer`.
const DEFAULT_URL: &str = "/api/bug-reports";

/// The bug-report routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create)).routes(routes!(create_trailing_slash))
}

/// The per-IP bug-report limit (protocol §1.1.3), as an extractor so it runs before the body is read.
pub struct BugReportRateLimit;

impl FromRequestParts<AppState> for BugReportRateLimit {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>().copied() else { return Ok(BugReportRateLimit) };
        match state.limiters.check(&state.limiters.bug_reports, ip) {
            Ok(()) => Ok(BugReportRateLimit),
            Err(retry_after_secs) => {
                metrics::counter!("http_rate_limited_total", "limit" => "bug_reports").increment(1);
                Err(ApiError::RateLimited { retry_after_secs })
            }
        }
    }
}

/// The stored report as the client gets it back; the issue does not exist yet.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreatedReport {
    id: String,
    title: String,
    issue_number: Option<i64>,
    issue_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Created {
    success: bool,
    message: &'static str,
    data: CreatedReport,
}

/// A header's value as text, cut to the field limit; `None` when absent, empty or not text.
fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| truncate_chars(value, MAX_FIELD_CHARS).to_owned())
}

/// The body of `POST /api/bug-reports` (schema only: `BugReportInput::parse` reads it and lists every failed
/// rule). Lengths are in characters; the title is trimmed, the description's length is counted trimmed.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"title": "Carte vide", "description": "La carte ne s'affiche pas.",
                          "environment": {"browser": "Firefox", "operatingSystem": "Linux"}}))]
#[allow(dead_code)] // the fields exist for their schema
pub struct BugReportRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: String,
    #[schema(min_length = 10, max_length = 10000)]
    description: String,
    environment: EnvironmentRequest,
    #[schema(max_length = 2000)]
    steps_to_reproduce: Option<String>,
    #[schema(max_length = 2000)]
    location: Option<String>,
    #[schema(max_length = 2000)]
    user_agent: Option<String>,
    #[schema(max_length = 2000)]
    url: Option<String>,
}

/// The reporter's environment, every field optional.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // the fields exist for their schema
pub struct EnvironmentRequest {
    #[schema(max_length = 2000)]
    browser: Option<String>,
    #[schema(max_length = 2000)]
    browser_version: Option<String>,
    #[schema(max_length = 2000)]
    operating_system: Option<String>,
    #[schema(max_length = 2000)]
    device_type: Option<String>,
    #[schema(max_length = 2000)]
    screen_resolution: Option<String>,
}

/// Stores a bug report (sign-in optional) for delivery to GitHub; answers once it is stored.
#[utoipa::path(post, path = "/api/bug-reports", tag = "bug-reports", request_body = BugReportRequest,
    responses((status = 201, body = Created),
              (status = 400, description = "validation_failed, with `details` (one French line per failed rule)"),
              (status = 429, description = "rate_limited: 10 reports per hour per client IP by default")))]
async fn create(
    _limit: BugReportRateLimit,
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    // Optional: credentials that lead nowhere make an anonymous report, never a 401.
    let reporter = state.auth.sessions.authenticate(&headers).await?;
    // A body that is not an object fails every required field, each named in `details`.
    let empty = Map::new();
    let fields = body.as_object().unwrap_or(&empty);
    let input = BugReportInput::parse(fields).map_err(|failed| ApiError::Validation {
        message: "Données invalides".to_owned(),
        details: failed.into_iter().map(str::to_owned).collect(),
    })?;
    let url = input.url.or_else(|| header_text(&headers, header::REFERER)).unwrap_or_else(|| DEFAULT_URL.to_owned());
    let user_agent = input.user_agent.or_else(|| header_text(&headers, header::USER_AGENT));
    let report = NewBugReport {
        id: new_id(),
        reporter_id: reporter.map(|a| a.user.id),
        title: input.title,
        description: input.description,
        steps_to_reproduce: input.steps_to_reproduce,
        location: input.location,
        environment: input.environment.to_json(),
        user_agent,
        url: Some(url),
        created_at: state.clock.now(),
    };
    state.store.insert_bug_report(&report).await?;
    tracing::info!(report_id = %report.id, "bug report stored");
    state.bug_report_wakeup.notify_one();
    Ok(json(
        StatusCode::CREATED,
        &Created {
            success: true,
            message: "Rapport de bug enregistré",
            data: CreatedReport { id: report.id, title: report.title, issue_number: None, issue_url: None },
        },
    ))
}

/// The original's alias with a trailing slash.
#[utoipa::path(post, path = "/api/bug-reports/", tag = "bug-reports", request_body = BugReportRequest,
    responses((status = 201, body = Created),
              (status = 400, description = "validation_failed, with `details` (one French line per failed rule)"),
              (status = 429, description = "rate_limited: 10 reports per hour per client IP by default")))]
async fn create_trailing_slash(
    limit: BugReportRateLimit,
    state: State<AppState>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    create(limit, state, headers, body).await
}
