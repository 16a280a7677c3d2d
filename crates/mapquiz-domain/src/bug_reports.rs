//! Bug reports (protocol §1.8): the checks a report must pass, and what its GitHub issue says: the French
//! Markdown body, the anonymised page URL, the reduced user agent, neutralised `@` mentions, and the
//! delivery back-off schedule.

use crate::Timestamp;
use serde_json::{Map, Value};
use std::time::Duration;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Shortest description, in characters (surrounding white space not counted).
pub const MIN_DESCRIPTION_CHARS: usize = 10;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest value of every other string field, in characters.
pub const MAX_FIELD_CHARS: usize = 2_000;

/// `details` message: missing or blank title.
pub const TITLE_REQUIRED: &str = "Le titre est requis";
/// `details` message: title over [`MAX_TITLE_CHARS`].
pub const TITLE_TOO_LONG: &str = "Le titre est trop long";
/// `details` message: description missing or under [`MIN_DESCRIPTION_CHARS`].
pub const DESCRIPTION_TOO_SHORT: &str = "La description doit contenir au moins 10 caractères";
/// `details` message: description over [`MAX_DESCRIPTION_CHARS`].
pub const DESCRIPTION_TOO_LONG: &str = "La description est trop longue";
/// `details` message: `environment` missing or not an object.
pub const ENVIRONMENT_REQUIRED: &str = "L'environnement est requis";
/// `details` message: another string over [`MAX_FIELD_CHARS`].
pub const FIELD_TOO_LONG: &str = "Champ trop long";
/// `details` message: an optional field that is neither a string nor null (the protocol has no wording for
/// it; clients must not depend on `details`).
pub const FIELD_INVALID: &str = "Champ invalide";

/// What the player's browser says about itself; every field optional, unknown keys dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub operating_system: Option<String>,
    pub device_type: Option<String>,
    pub screen_resolution: Option<String>,
}

/// The wire (and stored JSON) keys of [`Environment`], in its field order.
const ENVIRONMENT_KEYS: [&str; 5] = ["browser", "browserVersion", "operatingSystem", "deviceType", "screenResolution"];

impl Environment {
    fn fields(&self) -> [&Option<String>; 5] {
        [&self.browser, &self.browser_version, &self.operating_system, &self.device_type, &self.screen_resolution]
    }

    /// The JSON object stored with the report (absent fields omitted).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (key, value) in ENVIRONMENT_KEYS.iter().zip(self.fields()) {
            if let Some(v) = value {
                map.insert((*key).to_owned(), Value::String(v.clone()));
            }
        }
        Value::Object(map)
    }

    /// Reads a stored object back; anything that is not a string is ignored (it was checked on the way in).
    pub fn from_json(value: &Value) -> Environment {
        let get = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        Environment {
            browser: get("browser"),
            browser_version: get("browserVersion"),
            operating_system: get("operatingSystem"),
            device_type: get("deviceType"),
            screen_resolution: get("screenResolution"),
        }
    }
}

/// A report as the client sent it, checked (protocol §1.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BugReportInput {
    /// Trimmed, 1 to 200 characters.
    pub title: String,
    /// As typed, 10 (trimmed) to 10 000 characters.
    pub description: String,
    pub steps_to_reproduce: Option<String>,
    pub location: Option<String>,
    pub environment: Environment,
    pub user_agent: Option<String>,
    pub url: Option<String>,
}

/// Adds `message` once: `details` has one line per failed rule, not per field.
fn fail(errors: &mut Vec<&'static str>, message: &'static str) {
    if !errors.contains(&message) {
        errors.push(message);
    }
}

/// An optional string at `key` of `map`: absent, null or blank is `None`; too long or not a string fails.
fn optional(map: &Map<String, Value>, key: &str, errors: &mut Vec<&'static str>) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        // A blank field says nothing: `url` and `userAgent` then come from the request's headers.
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) if s.chars().count() > MAX_FIELD_CHARS => {
            fail(errors, FIELD_TOO_LONG);
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            fail(errors, FIELD_INVALID);
            None
        }
    }
}

impl BugReportInput {
    /// Checks every rule and collects every failure, in the protocol's table order.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Vec<&'static str>> {
        let mut errors = Vec::new();
        let title = body.get("title").and_then(Value::as_str).map(str::trim).unwrap_or("");
        if title.is_empty() {
            fail(&mut errors, TITLE_REQUIRED);
        } else if title.chars().count() > MAX_TITLE_CHARS {
            fail(&mut errors, TITLE_TOO_LONG);
        }
        let description = body.get("description").and_then(Value::as_str).unwrap_or("");
        if description.trim().chars().count() < MIN_DESCRIPTION_CHARS {
            fail(&mut errors, DESCRIPTION_TOO_SHORT);
        } else if description.chars().count() > MAX_DESCRIPTION_CHARS {
            fail(&mut errors, DESCRIPTION_TOO_LONG);
        }
        let environment = match body.get("environment") {
            Some(Value::Object(env)) => {
                let mut get = |key| optional(env, key, &mut errors);
                Environment {
                    browser: get("browser"),
                    browser_version: get("browserVersion"),
                    operating_system: get("operatingSystem"),
                    device_type: get("deviceType"),
                    screen_resolution: get("screenResolution"),
                }
            }
            _ => {
                fail(&mut errors, ENVIRONMENT_REQUIRED);
                Environment::default()
            }
        };
        let steps_to_reproduce = optional(body, "stepsToReproduce", &mut errors);
        let location = optional(body, "location", &mut errors);
        let user_agent = optional(body, "userAgent", &mut errors);
        let url = optional(body, "url", &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(BugReportInput {
            title: title.to_owned(),
            description: description.to_owned(),
            steps_to_reproduce,
            location,
            environment,
            user_agent,
            url,
        })
    }
}

/// The first `max` characters of `s` (a header value used as a field must fit the field's limit).
pub fn truncate_chars(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

/// Query parameters removed from a reported URL: they may carry credentials.
const SECRET_PARAMS: [&str; 6] = ["token", "auth", "key", "password", "secret", "id"];

/// Percent-decodes (and turns `+` into a space) well enough to compare a parameter name.
fn decode_name(raw: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).trim().to_lowercase()
}

/// The reported page URL without what could identify or authenticate someone: the query parameters
/// `token`, `auth`, `key`, `password`, `secret` and `id` (any case, percent-encoded or not) are removed and
/// the others kept in order; credentials before the host (`user:pass@`) and the fragment (`#…`, where
/// OAuth implicit flows put tokens) are dropped too. The path is kept.
pub fn anonymize_url(url: &str) -> String {
    let url = url.split('#').next().unwrap_or("");
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            out.push_str(scheme);
            out.push_str("://");
            out.push_str(host);
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let name = decode_name(pair.split('=').next().unwrap_or(""));
                !SECRET_PARAMS.contains(&name.as_str())
            })
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

/// The digits right after `token` in `ua` (`"Chrome/"` → `"120"`), if `token` occurs.
fn version_after<'a>(ua: &'a str, token: &str) -> Option<&'a str> {
    let start = ua.find(token)? + token.len();
    let rest = &ua[start..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Browser name and major version, the most specific token first: Edge and Opera also say "Chrome", and
/// Chrome also says "Safari".
fn browser(ua: &str) -> Option<(&'static str, &str)> {
    const TOKENS: [(&str, &str); 11] = [
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("Edge/", "Edge"),
        ("OPR/", "Opera"),
        ("OPT/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
    ];
    if let Some(found) = TOKENS.iter().find_map(|(token, name)| version_after(ua, token).map(|v| (*name, v))) {
        return Some(found);
    }
    if ua.starts_with("Opera/") || ua.contains(" Opera ") {
        return Some(("Opera", version_after(ua, "Version/").unwrap_or("")));
    }
    if ua.contains("Safari/") {
        return Some(("Safari", version_after(ua, "Version/").unwrap_or("")));
    }
    None
}

/// The operating system family; iOS first because iPhones say "like Mac OS X", Android before Linux.
fn operating_system(ua: &str) -> &'static str {
    if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        "iOS"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("CrOS") {
        "ChromeOS"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") || ua.contains("X11") {
        "Linux"
    } else {
        "OS inconnu"
    }
}

/// A `User-Agent` reduced to `<browser>/<major> on <OS>` (`Chrome/120 on Windows`): enough to triage,
/// too little to fingerprint. Unknown browsers read `Navigateur inconnu`, unknown systems `OS inconnu`.
pub fn reduce_user_agent(ua: &str) -> String {
    let os = operating_system(ua);
    match browser(ua) {
        Some((name, major)) if !major.is_empty() => format!("{name}/{major} on {os}"),
        Some((name, _)) => format!("{name} on {os}"),
        None => format!("Navigateur inconnu on {os}"),
    }
}

/// The zero-width space put after an `@` that starts a mention.
pub const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// Neutralises `@` mentions: GitHub would notify `@someone` (or a whole `@org/team`) named in a player's
/// text. A zero-width space goes between the `@` and the name, so the text reads the same but links and
/// notifies nobody; e-mail addresses (`a@b.c`: a word character before the `@`) are left alone.
/// Backticks were the alternative, but they change the rendering and can be closed by the player's text.
pub fn neutralize_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '@'
            && !previous.is_some_and(|p| p.is_alphanumeric() || p == '_')
            && chars.peek().is_some_and(|n| n.is_ascii_alphanumeric() || *n == '-' || *n == '_')
        {
            out.push(ZERO_WIDTH_SPACE);
        }
        previous = Some(c);
    }
    out
}

/// Who reported the bug, as the issue shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reporter<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// Everything the issue says about a stored report.
#[derive(Clone, Debug)]
pub struct IssueContent<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub steps_to_reproduce: Option<&'a str>,
    pub location: Option<&'a str>,
    pub environment: &'a Environment,
    /// The raw value; the issue shows it reduced.
    pub user_agent: Option<&'a str>,
    /// The raw value; the issue shows it anonymised.
    pub url: Option<&'a str>,
    /// `None`: anonymous (or the account was deleted since).
    pub reporter: Option<Reporter<'a>>,
    pub created_at: Timestamp,
}

/// The issue title: `[Bug Report] <title>`, mentions neutralised.
pub fn issue_title(title: &str) -> String {
    neutralize_mentions(&format!("[Bug Report] {title}"))
}

/// Shown for a field the player left empty.
const NOT_GIVEN: &str = "_Non renseigné_";

/// The issue body: French Markdown with the sections Description, Étapes de reproduction, Localisation,
/// Informations techniques and Utilisateur; the URL anonymised, the user agent reduced, mentions
/// neutralised everywhere.
pub fn issue_body(c: &IssueContent<'_>) -> String {
    let given = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let or_not_given = |v: Option<&str>| given(v).unwrap_or_else(|| NOT_GIVEN.to_owned());
    let env = c.environment;
    let browser = match (given(env.browser.as_deref()), given(env.browser_version.as_deref())) {
        (Some(b), Some(v)) => format!("{b} {v}"),
        (Some(b), None) => b,
        (None, Some(v)) => v,
        (None, None) => NOT_GIVEN.to_owned(),
    };
    let user_agent = given(c.user_agent).map(|ua| reduce_user_agent(&ua)).unwrap_or_else(|| NOT_GIVEN.to_owned());
    let url = given(c.url).map(|u| format!("`{}`", anonymize_url(&u).replace('`', "%60")));
    let reporter = match &c.reporter {
        Some(r) => format!("- Nom : {}\n- Identifiant : `{}`", r.name, r.id),
        None => "Anonyme".to_owned(),
    };
    let body = format!(
        "## Description\n\n{description}\n\n\
         ## Étapes de reproduction\n\n{steps}\n\n\
         ## Localisation\n\n{location}\n\n\
         ## Informations techniques\n\n\
         - Navigateur : {browser}\n\
         - Système d'exploitation : {os}\n\
         - Type d'appareil : {device}\n\
         - Résolution d'écran : {screen}\n\
         - User-Agent : {user_agent}\n\
         - URL : {url}\n\
         - Rapport : `{id}`, reçu le {created_at}\n\n\
         ## Utilisateur\n\n{reporter}\n",
        description = c.description.trim(),
        steps = or_not_given(c.steps_to_reproduce),
        location = or_not_given(c.location),
        os = or_not_given(env.operating_system.as_deref()),
        device = or_not_given(env.device_type.as_deref()),
        screen = or_not_given(env.screen_resolution.as_deref()),
        url = url.unwrap_or_else(|| NOT_GIVEN.to_owned()),
        id = c.id,
        created_at = c.created_at.to_iso(),
    );
    neutralize_mentions(&body)
}

/// Wait before the first retry; each failure doubles it.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
/// Longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(6 * 3600);
/// How long after its creation a report is still retried.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The wait after the `failures`-th failed attempt (1-based): 1 min, 2 min, 4 min, … capped at 6 h.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY)
}

/// When to try again after the `failures`-th failure at `now` of a report created at `created_at`:
/// `None` means give up (7 days have passed). The last retry is at the 7-day mark itself, so a report is
/// tried for the whole period.
pub fn next_attempt(created_at: Timestamp, failures: u32, now: Timestamp) -> Option<Timestamp> {
    let to_chrono = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let deadline = created_at.plus(to_chrono(GIVE_UP_AFTER));
    if now >= deadline {
        return None;
    }
    Some(now.plus(to_chrono(retry_delay(failures))).min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<BugReportInput, Vec<&'static str>> {
        BugReportInput::parse(v.as_object().unwrap())
    }

    fn valid() -> Value {
        json!({"title": "Carte vide", "description": "La carte ne s'affiche pas.", "environment": {}})
    }

    #[test]
    fn a_minimal_report_passes() {
        let r = parse(json!({"title": "  Carte vide ", "description": "0123456789", "environment": {}})).unwrap();
        assert_eq!(r.title, "Carte vide", "trimmed");
        assert_eq!(r.description, "0123456789");
        assert_eq!((r.steps_to_reproduce, r.location, r.user_agent, r.url), (None, None, None, None));
        assert_eq!(r.environment, Environment::default());
    }

    #[test]
    fn blank_optional_fields_are_absent() {
        let r = parse(json!({"title": "T", "description": "0123456789", "environment": {},
                             "url": "", "userAgent": "  ", "stepsToReproduce": ""}))
        .unwrap();
        assert_eq!((r.url, r.user_agent, r.steps_to_reproduce), (None, None, None), "headers fill url and userAgent");
    }

    #[test]
    fn every_field_is_kept_and_unknown_keys_dropped() {
        let r = parse(json!({
            "title": "T", "description": "0123456789", "stepsToReproduce": "1. Ouvrir", "location": "Europe",
            "environment": {"browser": "Firefox", "browserVersion": "121", "operatingSystem": "Linux",
                            "deviceType": "desktop", "screenResolution": "1920x1080", "extra": 1},
            "userAgent": "UA", "url": "https://x/y", "unknown": true
        }))
        .unwrap();
        assert_eq!(r.steps_to_reproduce.as_deref(), Some("1. Ouvrir"));
        assert_eq!(r.location.as_deref(), Some("Europe"));
        assert_eq!(
            r.environment.to_json(),
            json!({"browser": "Firefox", "browserVersion": "121", "operatingSystem": "Linux",
                   "deviceType": "desktop", "screenResolution": "1920x1080"})
        );
        assert_eq!(Environment::from_json(&r.environment.to_json()), r.environment);
        assert_eq!(r.user_agent.as_deref(), Some("UA"));
    }

    #[test]
    fn each_rule_has_its_message() {
        let with = |k: &str, v: Value| {
            let mut b = valid();
            b[k] = v;
            parse(b).unwrap_err()
        };
        assert_eq!(with("title", json!("")), vec![TITLE_REQUIRED]);
        assert_eq!(with("title", json!("   ")), vec![TITLE_REQUIRED]);
        assert_eq!(with("title", json!(5)), vec![TITLE_REQUIRED]);
        assert_eq!(with("title", json!("é".repeat(201))), vec![TITLE_TOO_LONG]);
        assert!(
            parse({
                let mut b = valid();
                b["title"] = json!("é".repeat(200));
                b
            })
            .is_ok()
        );
        assert_eq!(with("description", json!("123456789")), vec![DESCRIPTION_TOO_SHORT]);
        assert_eq!(with("description", json!("  123456789  ")), vec![DESCRIPTION_TOO_SHORT]);
        assert_eq!(with("description", json!("x".repeat(10_001))), vec![DESCRIPTION_TOO_LONG]);
        assert_eq!(with("environment", json!("Chrome")), vec![ENVIRONMENT_REQUIRED]);
        assert_eq!(with("environment", Value::Null), vec![ENVIRONMENT_REQUIRED]);
        assert_eq!(with("url", json!("x".repeat(2_001))), vec![FIELD_TOO_LONG]);
        assert_eq!(with("environment", json!({"browser": "x".repeat(2_001)})), vec![FIELD_TOO_LONG]);
        assert_eq!(with("location", json!(3)), vec![FIELD_INVALID]);
        assert!(
            parse({
                let mut b = valid();
                b["userAgent"] = Value::Null;
                b["url"] = json!("x".repeat(2_000));
                b
            })
            .is_ok()
        );
        assert_eq!(DESCRIPTION_TOO_SHORT, "La description doit contenir au moins 10 caractères");
    }

    #[test]
    fn every_failure_is_collected_once_in_table_order() {
        let errors = parse(json!({
            "title": "", "description": "court", "url": "u".repeat(2_001), "location": "l".repeat(2_001)
        }))
        .unwrap_err();
        assert_eq!(errors, vec![TITLE_REQUIRED, DESCRIPTION_TOO_SHORT, ENVIRONMENT_REQUIRED, FIELD_TOO_LONG]);
        assert_eq!(parse(json!({})).unwrap_err(), vec![TITLE_REQUIRED, DESCRIPTION_TOO_SHORT, ENVIRONMENT_REQUIRED]);
    }

    #[test]
    fn urls_lose_secret_parameters_credentials_and_fragment() {
        assert_eq!(
            anonymize_url("https://mapquiz.example/game/abc?token=t&lang=fr&ID=7&key=k&mode=quiz#access_token=x"),
            "https://mapquiz.example/game/abc?lang=fr&mode=quiz"
        );
        assert_eq!(anonymize_url("https://a.example/p?auth=1&password=2&secret=3"), "https://a.example/p");
        assert_eq!(anonymize_url("https://a.example/p?%74oken=1&pass=2&id"), "https://a.example/p?pass=2");
        assert_eq!(anonymize_url("https://u:pw@a.example/p?x=1"), "https://a.example/p?x=1");
        assert_eq!(anonymize_url("/api/bug-reports"), "/api/bug-reports");
        assert_eq!(anonymize_url("/lobby?idx=1&tokens=2"), "/lobby?idx=1&tokens=2", "names match exactly");
        assert_eq!(anonymize_url("https://a.example"), "https://a.example");
        assert_eq!(anonymize_url("https://a.example/?%zz=1&%"), "https://a.example/?%zz=1&%");
    }

    #[test]
    fn user_agents_are_reduced_to_browser_major_and_os() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.130 Safari/537.36",
                "Chrome/120 on Windows",
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox/121 on Linux"),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
                "Safari/17 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                "Safari/17 on iOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
                "Edge/120 on Windows",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
                "Opera/105 on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
                "Chrome/120 on Android",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
                "Chrome/120 on iOS",
            ),
            ("Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18", "Opera/12 on Windows"),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
                "Chrome/120 on ChromeOS",
            ),
            ("curl/8.5.0", "Navigateur inconnu on OS inconnu"),
            ("", "Navigateur inconnu on OS inconnu"),
        ];
        for (ua, expected) in cases {
            assert_eq!(reduce_user_agent(ua), expected, "{ua}");
        }
    }

    #[test]
    fn mentions_are_neutralised_but_emails_kept() {
        let z = ZERO_WIDTH_SPACE;
        assert_eq!(neutralize_mentions("merci @octocat !"), format!("merci @{z}octocat !"));
        assert_eq!(neutralize_mentions("@org/team"), format!("@{z}org/team"));
        assert_eq!(neutralize_mentions("(@a)"), format!("(@{z}a)"));
        assert_eq!(neutralize_mentions("joueur@example.com"), "joueur@example.com");
        assert_eq!(neutralize_mentions("@ seul, @@x"), format!("@ seul, @@{z}x"));
    }

    fn content<'a>(env: &'a Environment, reporter: Option<Reporter<'a>>) -> IssueContent<'a> {
        IssueContent {
            id: "r-1",
            title: "Carte vide",
            description: "Rien ne s'affiche, cc @octocat.",
            steps_to_reproduce: Some("1. Ouvrir\n2. Jouer"),
            location: None,
            environment: env,
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"),
            url: Some("https://mapquiz.example/jeu?token=abc&region=Europe"),
            reporter,
            created_at: Timestamp::from_millis(1_754_927_210_000).unwrap(),
        }
    }

    #[test]
    fn the_body_has_every_section_in_french() {
        let env = Environment {
            browser: Some("Firefox".into()),
            browser_version: Some("121.0".into()),
            operating_system: Some("Linux".into()),
            ..Environment::default()
        };
        let body = issue_body(&content(&env, None));
        let sections = [
            "## Description",
            "## Étapes de reproduction",
            "## Localisation",
            "## Informations techniques",
            "## Utilisateur",
        ];
        let mut last = 0;
        for s in sections {
            let at = body.find(s).unwrap_or_else(|| panic!("{s} missing in {body}"));
            assert!(at >= last, "{s} out of order");
            last = at;
        }
        assert!(body.contains("1. Ouvrir\n2. Jouer"));
        assert!(body.contains("## Localisation\n\n_Non renseigné_"));
        assert!(body.contains("- Navigateur : Firefox 121.0"));
        assert!(body.contains("- User-Agent : Firefox/121 on Linux"));
        assert!(body.contains("`https://mapquiz.example/jeu?region=Europe`"));
        assert!(!body.contains("abc"));
        assert!(body.contains("2025-08-11T15:46:50.000Z"));
        assert!(body.contains("## Utilisateur\n\nAnonyme"));
        assert!(body.contains(&format!("@{ZERO_WIDTH_SPACE}octocat")) && !body.contains("@octocat"));

        let signed_in = issue_body(&content(&env, Some(Reporter { id: "u-1", name: "@Zoé" })));
        assert!(signed_in.contains(&format!("- Nom : @{ZERO_WIDTH_SPACE}Zoé\n- Identifiant : `u-1`")), "{signed_in}");
        assert_eq!(issue_title("Bug @x"), format!("[Bug Report] Bug @{ZERO_WIDTH_SPACE}x"));
    }

    #[test]
    fn back_off_doubles_from_a_minute_to_six_hours() {
        let minutes = |n: u64| Duration::from_secs(60 * n);
        assert_eq!(retry_delay(1), minutes(1));
        assert_eq!(retry_delay(2), minutes(2));
        assert_eq!(retry_delay(3), minutes(4));
        assert_eq!(retry_delay(9), minutes(256));
        assert_eq!(retry_delay(10), minutes(360), "512 min capped at 6 h");
        assert_eq!(retry_delay(1_000), minutes(360));
        assert_eq!(retry_delay(0), minutes(1));
    }

    #[test]
    fn retries_stop_after_seven_days() {
        let created = Timestamp::from_millis(1_754_927_210_000).unwrap();
        let after = |d: Duration| created.plus(chrono::Duration::from_std(d).unwrap());
        assert_eq!(next_attempt(created, 1, created), Some(after(FIRST_RETRY)));
        let almost = after(GIVE_UP_AFTER - Duration::from_secs(60));
        assert_eq!(next_attempt(created, 30, almost), Some(after(GIVE_UP_AFTER)), "the last try is at 7 days");
        assert_eq!(next_attempt(created, 31, after(GIVE_UP_AFTER)), None);
        assert_eq!(next_attempt(created, 1, after(GIVE_UP_AFTER + Duration::from_secs(1))), None);
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("éééé", 2), "éé");
        assert_eq!(truncate_chars("ab", 5), "ab");
    }
}
