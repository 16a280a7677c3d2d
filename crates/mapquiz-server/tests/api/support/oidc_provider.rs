//! A small OpenID Connect provider started inside the test, standing in for Google (protocol §1.4.2–1.4.3):
//! discovery, a JWKS with one RSA key, and an authorization-code token endpoint that checks PKCE. There is no
//! browser: [`OidcProvider::authorize`] reads the authorization URL the server handed out and issues a code
//! for the identity the test chooses, as a user consenting on the provider's page would.
//!
//! The signing key `fixtures/oidc_test_key.pem` (and `fixtures/oidc_other_key.pem`, used to forge a bad
//! signature) are TEST-ONLY keys generated for this suite with `openssl genrsa -traditional 2048`; they
//! protect nothing. `fixtures/oidc_test_jwk.json` is the public half of the first, as a JWK.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// The provider's signing key (test only).
const SIGNING_KEY: &[u8] = include_bytes!("fixtures/oidc_test_key.pem");
/// A key the JWKS does not publish (test only): a token signed with it must be refused.
const OTHER_KEY: &[u8] = include_bytes!("fixtures/oidc_other_key.pem");
/// The public JWK of [`SIGNING_KEY`].
const JWK: &str = include_str!("fixtures/oidc_test_jwk.json");
/// The `kid` of the published key.
pub const KID: &str = "mapquiz-test-key-1";

/// Who signs in: the claims the ID token will carry.
#[derive(Clone, Debug)]
pub struct Identity {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: String,
    pub picture: Option<String>,
}

impl Identity {
    /// A verified Google user with a fresh subject, a name and a picture.
    pub fn new(email: &str) -> Identity {
        Identity {
            sub: format!("g-{}", uuid::Uuid::now_v7().simple()),
            email: Some(email.to_owned()),
            email_verified: true,
            name: "Grace Hopper".to_owned(),
            picture: Some("https://lh3.googleusercontent.com/a/grace.png".to_owned()),
        }
    }

    /// A fresh identity with a unique `@gmail.test` email.
    pub fn fresh() -> Identity {
        Identity::new(&format!("grace-{}@gmail.test", uuid::Uuid::now_v7().simple()))
    }
}

/// What the provider does wrong for one code (negative tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The ID token is signed with a key the JWKS does not publish (same `kid`).
    ForeignKey,
    /// `aud` is another client.
    WrongAudience,
    /// `iss` is not the discovery issuer.
    WrongIssuer,
    /// `exp` is an hour ago.
    Expired,
    /// The token endpoint refuses the code (400 `invalid_grant`) although it was issued.
    RefuseExchange,
}

/// A code handed out by [`OidcProvider::authorize`], with the parameters of the request it answers.
#[derive(Clone, Debug)]
pub struct Authorization {
    pub code: String,
    pub state: String,
}

/// One form POSTed to the token endpoint, as received.
pub type TokenRequest = HashMap<String, String>;

struct Issued {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    identity: Identity,
    fault: Option<Fault>,
    used: bool,
}

struct Shared {
    issuer: String,
    client_id: String,
    client_secret: String,
    codes: Mutex<HashMap<String, Issued>>,
    token_requests: Mutex<Vec<TokenRequest>>,
}

/// A running provider; stopped when dropped.
pub struct OidcProvider {
    shared: Arc<Shared>,
    handle: JoinHandle<()>,
}

impl OidcProvider {
    /// Starts a provider on 127.0.0.1:<random port> that knows one client.
    pub async fn start(client_id: &str, client_secret: &str) -> OidcProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            issuer,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            codes: Mutex::new(HashMap::new()),
            token_requests: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(shared.clone());
        let handle = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        OidcProvider { shared, handle }
    }

    /// The issuer, also the base URL: `http://127.0.0.1:<port>` (what `google_issuer` is set to).
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// Where the server must send the browser.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.shared.issuer)
    }

    /// The user consents: reads `client_id`, `state`, `redirect_uri` and the S256 `code_challenge` from the
    /// authorization URL the server returned and issues a single-use code for `identity`.
    pub fn authorize(&self, authorization_url: &str, identity: Identity) -> Authorization {
        self.issue(authorization_url, identity, None)
    }

    /// Like [`authorize`](Self::authorize), but the provider misbehaves in the way `fault` says.
    pub fn authorize_with_fault(&self, authorization_url: &str, identity: Identity, fault: Fault) -> Authorization {
        self.issue(authorization_url, identity, Some(fault))
    }

    fn issue(&self, authorization_url: &str, identity: Identity, fault: Option<Fault>) -> Authorization {
        let url = url::Url::parse(authorization_url).expect("the authorization URL is a URL");
        let endpoint = format!("{}{}", url.origin().ascii_serialization(), url.path());
        assert_eq!(endpoint, self.authorization_endpoint(), "the URL points at the discovery's endpoint");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let param = |k: &str| q.get(k).cloned().unwrap_or_else(|| panic!("no {k} in {authorization_url}"));
        assert_eq!(param("code_challenge_method"), "S256");
        let code = format!("code-{}", uuid::Uuid::now_v7().simple());
        let issued = Issued {
            client_id: param("client_id"),
            redirect_uri: param("redirect_uri"),
            code_challenge: param("code_challenge"),
            identity,
            fault,
            used: false,
        };
        let authorization = Authorization { code: code.clone(), state: param("state") };
        self.shared.codes.lock().unwrap().insert(code, issued);
        authorization
    }

    /// Every form the token endpoint received, in order.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared.token_requests.lock().unwrap().clone()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let base = &shared.issuer;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks() -> Json<Value> {
    let key: Value = serde_json::from_str(JWK).unwrap();
    assert_eq!(key["kid"], KID);
    Json(json!({"keys": [key]}))
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

async fn token(State(shared): State<Arc<Shared>>, Form(form): Form<HashMap<String, String>>) -> Response {
    shared.token_requests.lock().unwrap().push(form.clone());
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("client_id") != shared.client_id || field("client_secret") != shared.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if field("grant_type") != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let (identity, fault, client_id) = {
        let mut codes = shared.codes.lock().unwrap();
        let Some(issued) = codes.get_mut(field("code")) else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
        if issued.used
            || issued.fault == Some(Fault::RefuseExchange)
            || challenge != issued.code_challenge
            || field("redirect_uri") != issued.redirect_uri
            || field("client_id") != issued.client_id
        {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        issued.used = true;
        (issued.identity.clone(), issued.fault, issued.client_id.clone())
    };

    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": if fault == Some(Fault::WrongIssuer) { "https://accounts.evil.example".to_owned() } else { shared.issuer.clone() },
        "aud": if fault == Some(Fault::WrongAudience) { "someone-else".to_owned() } else { client_id },
        "sub": identity.sub,
        "email_verified": identity.email_verified,
        "name": identity.name,
        "iat": if fault == Some(Fault::Expired) { now - 7200 } else { now },
        "exp": if fault == Some(Fault::Expired) { now - 3600 } else { now + 3600 },
    });
    if let Some(email) = identity.email {
        claims["email"] = json!(email);
    }
    if let Some(picture) = identity.picture {
        claims["picture"] = json!(picture);
    }
    let pem = if fault == Some(Fault::ForeignKey) { OTHER_KEY } else { SIGNING_KEY };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    let id_token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap();
    Json(json!({
        "access_token": format!("ya29.{}", uuid::Uuid::now_v7().simple()),
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid email profile",
        "id_token": id_token,
    }))
    .into_response()
}
