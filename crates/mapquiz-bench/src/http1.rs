//! The hot loop's HTTP client: one keep-alive HTTP/1 connection (hyper's low-level client) per virtual client,
//! and requests built from templates, so that each request costs the bench little next to the server.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// A server to send HTTP/1 requests to.
#[derive(Clone, Debug)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    host: HeaderValue,
}

impl Target {
    /// Resolves a `http://host:port` base URL.
    pub async fn resolve(url: &str) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else { bail!("only http:// URLs are supported: {url}") };
        let authority = rest.split('/').next().unwrap_or_default();
        let with_port = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
        let addrs: Vec<SocketAddr> =
            tokio::net::lookup_host(&with_port).await.with_context(|| format!("resolving {authority}"))?.collect();
        // `localhost` may resolve to ::1 first while the server listens on 127.0.0.1 only: IPv4 first.
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .with_context(|| format!("{authority} has no address"))?;
        Ok(Target { addr, host: HeaderValue::from_str(authority).context("host header")? })
    }

    /// A new keep-alive connection; its driver runs on its own task until the connection closes.
    pub async fn connect(&self) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(self.addr).await.context("connect")?;
        // Small requests and answers: Nagle's delay would only add latency.
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.context("HTTP/1 handshake")?;
        tokio::spawn(async move {
            // Its end is seen by the sender (closed channel), which counts it.
            let _ = connection.await;
        });
        Ok(Conn { sender })
    }
}

/// A request to send again and again: what varies per request is only cloned, never parsed.
#[derive(Clone, Debug)]
pub struct Template {
    method: Method,
    uri: Uri,
    cookie: Option<HeaderValue>,
    body: Option<Bytes>,
}

impl Template {
    /// A GET of `path` (with its query), with the session cookie `cookie` if any.
    pub fn get(path: &str, cookie: Option<&str>) -> anyhow::Result<Self> {
        Ok(Template { method: Method::GET, uri: uri(path)?, cookie: header(cookie)?, body: None })
    }

    /// A POST of a JSON body.
    pub fn post_json(path: &str, cookie: Option<&str>, body: &serde_json::Value) -> anyhow::Result<Self> {
        Ok(Template {
            method: Method::POST,
            uri: uri(path)?,
            cookie: header(cookie)?,
            body: Some(Bytes::from(body.to_string())),
        })
    }

    fn build(&self, target: &Target) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .body(Full::new(self.body.clone().unwrap_or_default()))
            .context("request")?;
        let headers = req.headers_mut();
        headers.insert(HOST, target.host.clone());
        if let Some(c) = &self.cookie {
            headers.insert(COOKIE, c.clone());
        }
        if self.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(req)
    }
}

fn uri(path: &str) -> anyhow::Result<Uri> {
    path.parse().with_context(|| format!("bad request path {path}"))
}

fn header(value: Option<&str>) -> anyhow::Result<Option<HeaderValue>> {
    value.map(|v| HeaderValue::from_str(v).context("header value")).transpose()
}

/// One open connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Sends one request and reads the whole answer within `timeout`: the answer's status, or the kind of
    /// failure, after which the connection is not to be used again.
    pub async fn send(&mut self, target: &Target, template: &Template, timeout: Duration) -> Result<u16, String> {
        let req = template.build(target).map_err(|e| format!("request: {e}"))?;
        let exchange = async {
            self.sender.ready().await?;
            let res = self.sender.send_request(req).await?;
            let status = res.status().as_u16();
            // Read the body to its end so the connection is ready for the next request.
            res.into_body().collect().await?;
            Ok::<u16, hyper::Error>(status)
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(e)) => Err(hyper_kind(&e)),
            Err(_) => Err("timeout".into()),
        }
    }
}

/// A short kind for a failed exchange.
fn hyper_kind(e: &hyper::Error) -> String {
    use std::error::Error;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::BrokenPipe => "broken pipe".into(),
                k => format!("io: {k}"),
            };
        }
        source = s.source();
    }
    if e.is_closed() || e.is_incomplete_message() || e.is_canceled() {
        "connection closed".into()
    } else if e.is_parse() {
        "bad response".into()
    } else {
        "http error".into()
    }
}

/// A short kind for a failed connect.
pub fn connect_kind(e: &anyhow::Error) -> String {
    match e.root_cause().downcast_ref::<std::io::Error>().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionRefused) => "connect refused".into(),
        Some(std::io::ErrorKind::AddrNotAvailable) => "connect: no local port left".into(),
        Some(std::io::ErrorKind::TimedOut) => "connect timeout".into(),
        Some(k) => format!("connect: {k}"),
        None => format!("connect: {}", e.root_cause()),
    }
}
