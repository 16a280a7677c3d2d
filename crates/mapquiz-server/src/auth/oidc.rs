//! An OpenID Connect relying party for Google (or any issuer standing in for it): discovery, the
//! authorization-code exchange with PKCE, and ID-token validation against the issuer's keys.

use crate::config::GoogleConfig;
use anyhow::Context;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, RwLock};
use url::Url;

/// Bound on every call to the provider.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Keys are re-read at most this often when a token names an unknown key (rotation).
const JWKS_REFRESH_MIN: Duration = Duration::from_secs(60);
/// Keys are re-read after this long in any case.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Largest answer read from the provider.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Where the provider's endpoints are.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub issuer: String,
    pub authorization: Url,
    pub token: Url,
    pub jwks: Url,
}

/// The identity claims sign-in uses.
#[derive(Clone, Debug)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// Why the code did not give an identity.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The token endpoint refused the code (or could not be reached).
    #[error("token exchange failed: {0:#}")]
    InvalidCode(anyhow::Error),
    /// The ID token did not validate.
    #[error("ID token rejected: {0:#}")]
    BadIdToken(anyhow::Error),
}

/// A configured provider.
pub struct Provider {
    config: GoogleConfig,
    http: reqwest::Client,
    endpoints: OnceCell<Endpoints>,
    jwks: RwLock<Option<(JwkSet, Instant)>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    email_verified: bool,
    name: Option<String>,
    picture: Option<String>,
}

/// Google has sent `email_verified` as a string in some tokens.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s == "true",
        _ => false,
    })
}

impl Provider {
    /// A provider for `config`; nothing is fetched until first use.
    pub fn new(config: GoogleConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client for the identity provider")?;
        Ok(Provider { config, http, endpoints: OnceCell::new(), jwks: RwLock::new(None) })
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// The endpoints: configured ones, the rest from the discovery document (read once, on success).
    pub async fn endpoints(&self) -> anyhow::Result<&Endpoints> {
        self.endpoints
            .get_or_try_init(|| async {
                let c = &self.config;
                if let (Some(a), Some(t), Some(j)) = (&c.authorization_url, &c.token_url, &c.jwks_url) {
                    return Ok(Endpoints {
                        issuer: c.issuer.as_str().trim_end_matches('/').to_owned(),
                        authorization: a.clone(),
                        token: t.clone(),
                        jwks: j.clone(),
                    });
                }
                let base = c.issuer.as_str().trim_end_matches('/');
                let url = format!("{base}/.well-known/openid-configuration");
                let doc: Discovery = self.get_json(&url).await.context("OpenID discovery")?;
                Ok(Endpoints {
                    issuer: doc.issuer,
                    authorization: c.authorization_url.clone().unwrap_or(doc.authorization_endpoint),
                    token: c.token_url.clone().unwrap_or(doc.token_endpoint),
                    jwks: c.jwks_url.clone().unwrap_or(doc.jwks_uri),
                })
            })
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let res = self.http.get(url).send().await?.error_for_status()?;
        read_json(res).await
    }

    /// Trades an authorization code for the user's verified identity.
    pub async fn exchange(&self, code: &str, verifier: &str, redirect_uri: &str) -> Result<Identity, ExchangeError> {
        let endpoints = self.endpoints().await.map_err(ExchangeError::InvalidCode)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.config.client_id),
            ("client_secret", self.config.client_secret.expose_secret()),
        ];
        let tokens: TokenResponse = async {
            let res = self.http.post(endpoints.token.clone()).form(&form).send().await?;
            anyhow::ensure!(res.status().is_success(), "token endpoint answered {}", res.status());
            read_json(res).await
        }
        .await
        .map_err(ExchangeError::InvalidCode)?;
        self.validate(&tokens.id_token, endpoints).await.map_err(ExchangeError::BadIdToken)
    }

    async fn validate(&self, id_token: &str, endpoints: &Endpoints) -> anyhow::Result<Identity> {
        let header = jsonwebtoken::decode_header(id_token).context("unreadable ID token header")?;
        anyhow::ensure!(
            matches!(
                header.alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
                    | Algorithm::ES256
                    | Algorithm::ES384
            ),
            "ID token algorithm {:?} is not an asymmetric signature",
            header.alg
        );
        let kid = header.kid.context("ID token without a key id")?;
        let key = self.key(&kid, &endpoints.jwks).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config.client_id]);
        let mut issuers = vec![endpoints.issuer.clone()];
        if endpoints.issuer == "https://accounts.google.com" {
            // Google documents both forms of its issuer.
            issuers.push("accounts.google.com".to_owned());
        }
        validation.set_issuer(&issuers);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(id_token, &key, &validation).context("ID token rejected")?;
        let c = data.claims;
        Ok(Identity {
            subject: c.sub,
            email: c.email,
            email_verified: c.email_verified,
            name: c.name,
            picture: c.picture,
        })
    }

    /// The signing key `kid`, re-reading the key set when it is old or (not too often) when the key is new.
    async fn key(&self, kid: &str, jwks_url: &Url) -> anyhow::Result<DecodingKey> {
        {
            let cached = self.jwks.read().await;
            if let Some((set, fetched)) = cached.as_ref()
                && fetched.elapsed() < JWKS_MAX_AGE
            {
                if let Some(jwk) = set.find(kid) {
                    return DecodingKey::from_jwk(jwk).context("unusable signing key");
                }
                anyhow::ensure!(fetched.elapsed() >= JWKS_REFRESH_MIN, "unknown signing key {kid:?}");
            }
        }
        let set: JwkSet = self.get_json(jwks_url.as_str()).await.context("reading the provider's keys")?;
        let key = set.find(kid).map(DecodingKey::from_jwk);
        *self.jwks.write().await = Some((set, Instant::now()));
        key.context("unknown signing key")?.context("unusable signing key")
    }
}

/// Reads a JSON answer of bounded size.
async fn read_json<T: serde::de::DeserializeOwned>(mut res: reqwest::Response) -> anyhow::Result<T> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        anyhow::ensure!(body.len() + chunk.len() <= MAX_RESPONSE_BYTES, "provider answer too large");
        body.extend_from_slice(&chunk);
    }
    Ok(serde_json::from_slice(&body)?)
}
