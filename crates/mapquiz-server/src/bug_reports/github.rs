//! The GitHub side of bug-report delivery: `POST {api}/repos/{owner}/{repo}/issues`.

use crate::config::GithubConfig;
use anyhow::Context;
use axum::http::{HeaderMap, HeaderValue, header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

/// Longest wait for one issue creation, connection included: a stalled GitHub must not hold a claimed
/// report for long (its lease is much longer, see the worker).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for the connection alone.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Labels every delivered issue gets.
pub const LABELS: [&str; 3] = ["bug", "user-reported", "needs-triage"];
/// How much of an error answer is kept in `last_error`.
const ERROR_BODY_CHARS: usize = 300;

/// Creates issues in one repository.
pub struct GithubClient {
    http: reqwest::Client,
    issues_url: Url,
    token: SecretString,
    /// `owner/repo`, for logs.
    repository: String,
}

/// The created issue.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Issue {
    pub number: i64,
    pub html_url: String,
}

#[derive(Serialize)]
struct NewIssue<'a> {
    title: &'a str,
    body: &'a str,
    labels: [&'static str; 3],
}

/// Why an issue was not created; the text goes to `last_error` and the log, never the token.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("GitHub answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("GitHub could not be reached: {0}")]
    Transport(String),
    #[error("GitHub's answer has no issue number and URL: {0}")]
    Answer(String),
}

impl GithubClient {
    /// A client for the configured repository; `Ok(None)` when the token, owner or repository is missing
    /// (delivery off).
    pub fn from_config(config: &GithubConfig) -> anyhow::Result<Option<Self>> {
        let (Some(token), Some(owner), Some(repo)) = (&config.token, &config.repo_owner, &config.repo_name) else {
            return Ok(None);
        };
        let mut issues_url = config.api_url.clone();
        issues_url
            .path_segments_mut()
            .map_err(|()| anyhow::anyhow!("github_api_url cannot have a path"))?
            .pop_if_empty()
            .extend(["repos", owner, repo, "issues"]);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert(header::USER_AGENT, HeaderValue::from_static("mapquiz-server"));
        headers.insert("x-github-api-version", HeaderValue::from_static("2022-11-28"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client for GitHub")?;
        Ok(Some(GithubClient { http, issues_url, token: token.clone(), repository: format!("{owner}/{repo}") }))
    }

    /// `owner/repo`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Creates one issue with the bug-report labels.
    pub async fn create_issue(&self, title: &str, body: &str) -> Result<Issue, DeliveryError> {
        // The token leaves its secret wrapper only here, into a header marked sensitive (never logged).
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .map_err(|_| DeliveryError::Transport("the GitHub token is not a valid header value".to_owned()))?;
        authorization.set_sensitive(true);
        let response = self
            .http
            .post(self.issues_url.clone())
            .header(header::AUTHORIZATION, authorization)
            .json(&NewIssue { title, body, labels: LABELS })
            .send()
            .await
            .map_err(|e| DeliveryError::Transport(transport_error(&e)))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| DeliveryError::Transport(transport_error(&e)))?;
        if !status.is_success() {
            let body = mapquiz_domain::bug_reports::truncate_chars(text.trim(), ERROR_BODY_CHARS).to_owned();
            return Err(DeliveryError::Status { status: status.as_u16(), body });
        }
        serde_json::from_str(&text).map_err(|e| DeliveryError::Answer(e.to_string()))
    }
}

/// The error and its causes, one line.
fn transport_error(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "timed out".to_owned() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
