//! Solo scores: saving a game with every validation rule in the protocol's order, the history (bare array,
//! order, limit, `DD/MM` label in the configured time zone) and the statistics (protocol §1.1.4, §1.7, §5;
//! quirks 6 and 16; checklist 9–13, 56–61).

use crate::support::auth::{keys, roomy_app, set, sign_in_again};
use crate::support::{TestApp, TestUser, header, is_timestamp, json, on_both_backends};
use mapquiz_domain::Timestamp;
use serde_json::{Value, json};

/// The keys of a saved score (§5.1).
const SCORE_KEYS: &[&str] =
    &["id", "userId", "score", "totalQuestions", "selectedRegions", "gameMode", "duration", "createdAt"];
/// The keys of a history item (§5.2).
const HISTORY_KEYS: &[&str] = &["score", "duration", "selectedRegions", "date", "createdAt"];
/// The six region identifiers (§0.3), precomposed.
pub(crate) const REGIONS: [&str; 6] = ["Afrique", "Amérique du Nord", "Amérique du Sud", "Asie", "Europe", "Océanie"];

// ---------------------------------------------------------------------------------------------------------
// Shared with the leaderboards suite
// ---------------------------------------------------------------------------------------------------------

/// The instant an ISO-8601 string names.
pub(crate) fn at(iso: &str) -> Timestamp {
    Timestamp::from_datetime(chrono::DateTime::parse_from_rfc3339(iso).unwrap().with_timezone(&chrono::Utc))
}

/// Makes the server's "now" the instant `iso` names (time flows on from there).
pub(crate) fn set_now(app: &TestApp, iso: &str) {
    app.clock.set(at(iso));
}

/// Milliseconds since the epoch of a protocol timestamp string (panics unless it is one).
pub(crate) fn millis_of(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp string: {v}"));
    assert!(is_timestamp(s), "not in the protocol's timestamp form: {s}");
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

/// A game body with every field.
pub(crate) fn game(score: i64, total: i64, regions: &[&str], mode: &str, duration: Option<i64>) -> Value {
    json!({"score": score, "totalQuestions": total, "selectedRegions": regions, "gameMode": mode, "duration": duration})
}

/// POST /api/scores as `user`.
pub(crate) async fn post_score(app: &TestApp, user: &TestUser, body: &Value) -> (u16, Value) {
    json(app.post_as(user, "/api/scores", body).await).await
}

/// Saves a game; panics unless it is accepted. Returns the stored score object.
pub(crate) async fn save(app: &TestApp, user: &TestUser, body: &Value) -> Value {
    let (status, answer) = post_score(app, user, body).await;
    assert_eq!(status, 200, "saving {body}: {answer}");
    assert_eq!(answer["success"], true, "{answer}");
    answer["score"].clone()
}

/// Asserts a `validation_failed` body with exactly `message` (an optional `details` array allowed).
pub(crate) fn assert_invalid(status: u16, body: &Value, message: &str) {
    assert_eq!(status, 400, "expected 400 {message:?}: {body}");
    assert_eq!(body["code"], "validation_failed", "{body}");
    assert_eq!(body["error"], message, "{body}");
    let extra: Vec<_> =
        keys(body).into_iter().filter(|k| !["error", "code", "details"].contains(&k.as_str())).collect();
    assert!(extra.is_empty(), "only error, code and details: {body}");
    if let Some(d) = body.get("details") {
        assert!(d.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "{body}");
    }
}

/// The exact 401 body.
pub(crate) fn unauthorized() -> Value {
    json!({"error": "Non autorisé", "code": "unauthorized"})
}

// ---------------------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------------------

async fn history(app: &TestApp, user: &TestUser, query: &str) -> Vec<Value> {
    let (status, body) = json(app.get_as(user, &format!("/api/scores/history{query}")).await).await;
    assert_eq!(status, 200, "history{query}: {body}");
    let items = body.as_array().unwrap_or_else(|| panic!("a bare array: {body}")).clone();
    for item in &items {
        assert_eq!(keys(item), set(HISTORY_KEYS), "{item}");
        assert!(item["score"].is_i64() && item["duration"].is_i64(), "{item}");
        assert!(item["selectedRegions"].is_array(), "{item}");
        let date = item["date"].as_str().unwrap();
        assert!(date.len() == 5 && date.as_bytes()[2] == b'/', "DD/MM: {item}");
        millis_of(&item["createdAt"]);
    }
    items
}

async fn stats(app: &TestApp, user: &TestUser) -> Value {
    let (status, body) = json(app.get_as(user, "/api/scores/stats").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["totalGames", "bestScore", "averageScore", "totalScore"]), "{body}");
    body
}

fn scores_of(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["score"].as_i64().unwrap()).collect()
}

/// A valid body to break one field of.
fn valid() -> Value {
    game(6, 7, &["Europe", "Asie"], "quiz", Some(42))
}

fn with(key: &str, value: Value) -> Value {
    let mut b = valid();
    b[key] = value;
    b
}

fn without(key: &str) -> Value {
    let mut b = valid();
    b.as_object_mut().unwrap().remove(key);
    b
}

// ---------------------------------------------------------------------------------------------------------
// POST /api/scores (checklist 56–58)
// ---------------------------------------------------------------------------------------------------------

async fn a_saved_game_is_answered_with_every_field(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, "2026-03-10T12:00:00.000Z");
    let user = app.sign_up("Saver").await;
    let before = at("2026-03-10T12:00:00.000Z").millis();

    let res = app.post_as(&user, "/api/scores", &game(6, 7, &["Europe", "Asie"], "quiz", Some(42))).await;
    assert!(
        header(&res, "content-type").is_some_and(|c| c.starts_with("application/json")),
        "JSON content type: {:?}",
        header(&res, "content-type")
    );
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), set(&["success", "score"]), "{body}");
    assert_eq!(body["success"], true);
    let score = &body["score"];
    assert_eq!(keys(score), set(SCORE_KEYS), "{score}");
    let id = score["id"].as_str().unwrap();
    assert!(
        id.len() == 36
            && id.as_bytes()[14] == b'7'
            && id.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "a lower-case hyphenated UUIDv7: {id}"
    );
    assert_eq!(score["userId"], user.id.as_str());
    assert_eq!(score["score"], 6, "quirk 6: stored as sent, never adjusted");
    assert_eq!(score["totalQuestions"], 7);
    assert_eq!(score["selectedRegions"], json!(["Europe", "Asie"]), "as sent");
    assert_eq!(score["gameMode"], "quiz");
    assert_eq!(score["duration"], 42);
    let created = millis_of(&score["createdAt"]);
    assert!((before..before + 10_000).contains(&created), "createdAt is the server's now: {score}");

    // A second game gets another id; training is kept; the trailing-slash alias is accepted (§1.1.4).
    let (status, body) =
        json(app.post_as(&user, "/api/scores/", &game(0, 1, &["Océanie"], "training", Some(0))).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body["score"]), set(SCORE_KEYS));
    assert_ne!(body["score"]["id"], score["id"]);
    assert_eq!(body["score"]["gameMode"], "training");
    assert_eq!(body["score"]["score"], 0);
    assert_eq!(body["score"]["duration"], 0);

    // What was stored is what the history shows.
    let items = history(&app, &user, "").await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["createdAt"], score["createdAt"]);
    assert_eq!(
        (&items[0]["score"], &items[0]["duration"], &items[0]["selectedRegions"]),
        (&json!(6), &json!(42), &json!(["Europe", "Asie"]))
    );
}
on_both_backends!(a_saved_game_is_answered_with_every_field);

async fn boundaries_and_every_region_are_accepted(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Edges").await;
    for body in [
        game(1, 1, &["Europe"], "quiz", Some(0)),
        game(0, 1, &["Europe"], "quiz", Some(86_400)),
        game(500, 500, &REGIONS, "training", None),
        game(7, 7, &["Océanie"], "quiz", Some(1)),
        game(3, 7, &["Amérique du Nord", "Amérique du Sud", "Afrique"], "quiz", Some(5)),
    ] {
        let score = save(&app, &user, &body).await;
        assert_eq!(score["score"], body["score"]);
        assert_eq!(score["totalQuestions"], body["totalQuestions"]);
        assert_eq!(score["selectedRegions"], body["selectedRegions"]);
        assert_eq!(score["gameMode"], body["gameMode"]);
        assert_eq!(score["duration"], body["duration"]);
    }
    assert_eq!(history(&app, &user, "").await.len(), 5);
}
on_both_backends!(boundaries_and_every_region_are_accepted);

async fn defaults_missing_mode_is_quiz_and_missing_or_null_duration_is_null(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Defaults").await;
    let no_mode = save(&app, &user, &without("gameMode")).await;
    assert_eq!(no_mode["gameMode"], "quiz", "{no_mode}");
    let no_duration = save(&app, &user, &without("duration")).await;
    assert_eq!(no_duration["duration"], Value::Null, "{no_duration}");
    assert!(no_duration.as_object().unwrap().contains_key("duration"), "a `T or null` field is always present");
    let null_duration = save(&app, &user, &with("duration", Value::Null)).await;
    assert_eq!(null_duration["duration"], Value::Null, "{null_duration}");
    // Unknown keys are ignored (§0.1).
    let mut extra = valid();
    extra["cheat"] = json!(true);
    save(&app, &user, &extra).await;

    // History shows a null duration as 0.
    let items = history(&app, &user, "").await;
    let durations: Vec<&Value> = items.iter().map(|i| &i["duration"]).collect();
    assert_eq!(durations, [&json!(42), &json!(0), &json!(0), &json!(42)], "{items:?}");
}
on_both_backends!(defaults_missing_mode_is_quiz_and_missing_or_null_duration_is_null);

async fn every_validation_rule_has_its_message(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Checker").await;
    const TOTAL: &str = "Nombre de questions invalide";
    const SCORE: &str = "Score invalide";
    const REGIONS_MSG: &str = "Régions sélectionnées invalides";
    const MODE: &str = "Mode de jeu invalide";
    const DURATION: &str = "Durée invalide";

    let mut cases: Vec<(Value, &str)> = vec![
        // totalQuestions: an integer in 1..=500.
        (with("totalQuestions", json!(0)), TOTAL),
        (with("totalQuestions", json!(501)), TOTAL),
        (with("totalQuestions", json!(-1)), TOTAL),
        (with("totalQuestions", json!(7.5)), TOTAL),
        (with("totalQuestions", json!("7")), TOTAL),
        (with("totalQuestions", Value::Null), TOTAL),
        (without("totalQuestions"), TOTAL),
        (json!({}), TOTAL),
        // score: an integer in 0..=totalQuestions.
        (with("score", json!(8)), SCORE),
        (with("score", json!(-1)), SCORE),
        (with("score", json!(1.5)), SCORE),
        (with("score", json!("6")), SCORE),
        (with("score", Value::Null), SCORE),
        (without("score"), SCORE),
        // selectedRegions: a non-empty array of distinct known identifiers.
        (with("selectedRegions", json!([])), REGIONS_MSG),
        (with("selectedRegions", json!(["Australie"])), REGIONS_MSG),
        (with("selectedRegions", json!(["Europe", "Australie"])), REGIONS_MSG),
        (with("selectedRegions", json!(["Europe", "Europe"])), REGIONS_MSG),
        (with("selectedRegions", json!(["Oce\u{301}anie"])), REGIONS_MSG),
        (with("selectedRegions", json!(["europe"])), REGIONS_MSG),
        (with("selectedRegions", json!("Europe")), REGIONS_MSG),
        (with("selectedRegions", json!([1])), REGIONS_MSG),
        (with("selectedRegions", Value::Null), REGIONS_MSG),
        (without("selectedRegions"), REGIONS_MSG),
        // gameMode: quiz or training.
        (with("gameMode", json!("x")), MODE),
        (with("gameMode", json!("QUIZ")), MODE),
        (with("gameMode", json!("")), MODE),
        (with("gameMode", json!(1)), MODE),
        // duration: an integer number of seconds in 0..=86400.
        (with("duration", json!(-1)), DURATION),
        (with("duration", json!(86_401)), DURATION),
        (with("duration", json!(1.5)), DURATION),
        (with("duration", json!("42")), DURATION),
    ];
    // The first failing rule in the protocol's order wins.
    let mut both = valid();
    both["totalQuestions"] = json!(0);
    both["score"] = json!(9);
    cases.push((both, TOTAL));
    let mut both = valid();
    both["score"] = json!(99);
    both["selectedRegions"] = json!([]);
    cases.push((both, SCORE));
    let mut both = valid();
    both["selectedRegions"] = json!(["Australie"]);
    both["gameMode"] = json!("x");
    cases.push((both, REGIONS_MSG));
    let mut both = valid();
    both["gameMode"] = json!("x");
    both["duration"] = json!(-1);
    cases.push((both, MODE));
    let mut all = json!({"score": "a", "totalQuestions": 501, "selectedRegions": [], "gameMode": 3, "duration": -5});
    cases.push((all.clone(), TOTAL));
    all["totalQuestions"] = json!(10);
    cases.push((all.clone(), SCORE));
    all["score"] = json!(10);
    cases.push((all.clone(), REGIONS_MSG));
    all["selectedRegions"] = json!(["Asie"]);
    cases.push((all.clone(), MODE));
    all["gameMode"] = json!("training");
    cases.push((all.clone(), DURATION));

    for (body, message) in &cases {
        let (status, answer) = post_score(&app, &user, body).await;
        assert!(message.contains("invalide"), "{message}");
        assert_eq!((status, &answer["error"]), (400, &json!(message)), "body {body}: {answer}");
        assert_invalid(status, &answer, message);
    }
    // Nothing refused was stored.
    assert_eq!(history(&app, &user, "").await, Vec::<Value>::new());
    assert_eq!(stats(&app, &user).await, json!({"totalGames": 0, "bestScore": 0, "averageScore": 0, "totalScore": 0}));
}
on_both_backends!(every_validation_rule_has_its_message);

async fn a_missing_body_is_donnees_invalides(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Empty").await;
    for content_type in [Some("application/json"), None] {
        let mut req = app.client.post(app.url("/api/scores")).header("cookie", &user.cookie);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let (status, body) = json(req.send().await.unwrap()).await;
        assert_invalid(status, &body, "Données invalides");
    }
}
on_both_backends!(a_missing_body_is_donnees_invalides);

async fn cross_cutting_checks_come_before_authentication(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Edge").await;

    // Malformed JSON without credentials is 400 invalid_json, not 401 (checklist 11); same with credentials.
    let invalid_json = json!({"error": "JSON invalide", "code": "invalid_json"});
    let res = app
        .client
        .post(app.url("/api/scores"))
        .header("content-type", "application/json")
        .body("{ invalid json")
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await, (400, invalid_json.clone()));
    let res = app
        .client
        .post(app.url("/api/scores"))
        .header("cookie", &user.cookie)
        .header("content-type", "application/json")
        .body("{ invalid json")
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await, (400, invalid_json));

    // A valid body without credentials is 401 (and a bad one too: authentication precedes validation).
    let (status, body) = json(app.post_json("/api/scores", &valid()).await).await;
    assert_eq!((status, body), (401, unauthorized()));
    let (status, body) = json(app.post_json("/api/scores", &with("score", json!(99))).await).await;
    assert_eq!((status, body), (401, unauthorized()));

    // A non-JSON media type with a body is 415 (checklist 10), with or without credentials.
    let unsupported = json!({"error": "Type de contenu non supporté", "code": "unsupported_media_type"});
    for cookie in [Some(user.cookie.as_str()), None] {
        let mut req =
            app.client.post(app.url("/api/scores")).header("content-type", "text/plain").body(valid().to_string());
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        assert_eq!(json(req.send().await.unwrap()).await, (415, unsupported.clone()), "cookie: {}", cookie.is_some());
    }

    // A 2 MiB body is 413 (checklist 9), with or without credentials.
    let too_large = json!({"error": "Requête trop volumineuse", "code": "payload_too_large"});
    let mut big = valid();
    big["padding"] = json!("x".repeat(2 * 1024 * 1024));
    for cookie in [Some(user.cookie.as_str()), None] {
        let mut req =
            app.client.post(app.url("/api/scores")).header("content-type", "application/json").body(big.to_string());
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        assert_eq!(json(req.send().await.unwrap()).await, (413, too_large.clone()), "cookie: {}", cookie.is_some());
    }
    // None of it was stored.
    assert_eq!(history(&app, &user, "").await, Vec::<Value>::new());
}
on_both_backends!(cross_cutting_checks_come_before_authentication);

// ---------------------------------------------------------------------------------------------------------
// GET /api/scores/history (checklist 13, 34, 59, 60)
// ---------------------------------------------------------------------------------------------------------

async fn history_needs_a_session_and_accepts_a_bearer(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Bearer").await;
    save(&app, &user, &valid()).await;
    assert_eq!(json(app.get("/api/scores/history").await).await, (401, unauthorized()));
    assert_eq!(json(app.get("/api/scores/stats").await).await, (401, unauthorized()));
    // 401 precedes parameter validation.
    assert_eq!(json(app.get("/api/scores/history?limit=0").await).await, (401, unauthorized()));
    let res = app.client.get(app.url("/api/scores/history")).header("authorization", user.bearer()).send().await;
    let (status, body) = json(res.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
}
on_both_backends!(history_needs_a_session_and_accepts_a_bearer);

async fn history_is_a_bare_array_of_the_latest_ten_oldest_first(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Historian").await;
    assert_eq!(history(&app, &user, "").await, Vec::<Value>::new(), "no scores: []");

    let mut created = Vec::new();
    for i in 1..=12 {
        let mode = if i % 3 == 0 { "training" } else { "quiz" };
        let regions: &[&str] = if i % 2 == 0 { &["Europe"] } else { &["Asie", "Afrique"] };
        let score = save(&app, &user, &game(i, 20, regions, mode, Some(i * 10))).await;
        created.push(score["createdAt"].clone());
    }
    let items = history(&app, &user, "").await;
    assert_eq!(scores_of(&items), (3..=12).collect::<Vec<_>>(), "the latest 10 (all modes), oldest → newest");
    for (item, i) in items.iter().zip(3..=12i64) {
        assert_eq!(item["duration"], i * 10);
        let regions = if i % 2 == 0 { json!(["Europe"]) } else { json!(["Asie", "Afrique"]) };
        assert_eq!(item["selectedRegions"], regions, "{item}");
        assert_eq!(item["createdAt"], created[usize::try_from(i - 1).unwrap()], "{item}");
    }
    let ms: Vec<i64> = items.iter().map(|i| millis_of(&i["createdAt"])).collect();
    assert!(ms.windows(2).all(|w| w[0] <= w[1]), "createdAt ascending: {ms:?}");

    assert_eq!(scores_of(&history(&app, &user, "?limit=1").await), [12], "the newest only");
    assert_eq!(scores_of(&history(&app, &user, "?limit=3").await), [10, 11, 12]);
    assert_eq!(scores_of(&history(&app, &user, "?limit=100").await), (1..=12).collect::<Vec<_>>());
    assert_eq!(scores_of(&history(&app, &user, "?limit=12").await), (1..=12).collect::<Vec<_>>());
    // Only `/api/scores/` is an alias (§1.1.4); `/api/scores/history/` is not.
    let (status, body) = json(app.get_as(&user, "/api/scores/history/").await).await;
    assert_eq!((status, body), (404, json!({"error": "Route non trouvée", "code": "not_found"})));
}
on_both_backends!(history_is_a_bare_array_of_the_latest_ten_oldest_first);

async fn history_limit_is_validated(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Limits").await;
    save(&app, &user, &valid()).await;
    for bad in ["0", "101", "x", "-1", "1.5", "1e1"] {
        let (status, body) = json(app.get_as(&user, &format!("/api/scores/history?limit={bad}")).await).await;
        assert_invalid(status, &body, "Paramètre limit invalide");
    }
    for ok in ["1", "100", "10"] {
        let (status, body) = json(app.get_as(&user, &format!("/api/scores/history?limit={ok}")).await).await;
        assert_eq!(status, 200, "limit={ok}: {body}");
    }
}
on_both_backends!(history_limit_is_validated);

async fn history_orders_by_created_at_then_insertion(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let user = app.sign_up("Order").await;

    // Inserted later but created earlier (the clock was moved back): createdAt decides.
    set_now(&app, "2026-03-10T13:00:00.000Z");
    save(&app, &user, &game(1, 10, &["Europe"], "quiz", Some(1))).await;
    set_now(&app, "2026-03-10T12:00:00.000Z");
    save(&app, &user, &game(2, 10, &["Europe"], "quiz", Some(1))).await;
    assert_eq!(scores_of(&history(&app, &user, "").await), [2, 1]);

    // Same millisecond: insertion order decides. The clock cannot stop, so these are stored directly, as the
    // server would store them (ids generated in order).
    let same = at("2026-03-10T14:00:00.000Z");
    for s in 3..=7 {
        let new = mapquiz_store::NewScore {
            id: mapquiz_domain::new_id(),
            user_id: user.id.clone(),
            score: s,
            total_questions: 10,
            selected_regions: vec!["Europe".to_owned()],
            regions_key: "Europe".to_owned(),
            game_mode: "quiz".to_owned(),
            duration: Some(5),
            created_at: same,
            boards: vec![],
        };
        app.state.store.insert_score(&new).await.unwrap();
    }
    let items = history(&app, &user, "").await;
    assert_eq!(scores_of(&items), [2, 1, 3, 4, 5, 6, 7], "{items:?}");
    assert!(items[2..].iter().all(|i| i["createdAt"] == "2026-03-10T14:00:00.000Z"), "{items:?}");
    assert_eq!(scores_of(&history(&app, &user, "?limit=3").await), [5, 6, 7], "the newest three by insertion");
}
on_both_backends!(history_orders_by_created_at_then_insertion);

async fn history_date_is_dd_mm_in_europe_paris(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let mut user = app.sign_up("Paris").await;
    // (instant, expected label): winter (UTC+1) and summer (UTC+2) on both sides of local midnight.
    let cases = [
        ("2025-12-31T22:30:00.000Z", "31/12"),
        ("2025-12-31T23:30:00.000Z", "01/01"),
        ("2025-07-14T21:30:00.000Z", "14/07"),
        ("2025-07-14T22:30:00.000Z", "15/07"),
        ("2026-03-10T08:05:00.000Z", "10/03"),
    ];
    let mut order = cases.to_vec();
    order.sort();
    for (iso, _) in &order {
        set_now(&app, iso);
        // A session from this "now" (the instants span more than a session's 7 days).
        user = sign_in_again(&app, &user).await;
        let score = save(&app, &user, &valid()).await;
        let created = millis_of(&score["createdAt"]);
        assert!((at(iso).millis()..at(iso).millis() + 10_000).contains(&created), "{score}");
    }
    let items = history(&app, &user, "").await;
    let got: Vec<(&str, &str)> =
        items.iter().map(|i| (&i["createdAt"].as_str().unwrap()[..19], i["date"].as_str().unwrap())).collect();
    let expected: Vec<(&str, &str)> = order.iter().map(|(iso, d)| (&iso[..19], *d)).collect();
    assert_eq!(got, expected);
}
on_both_backends!(history_date_is_dd_mm_in_europe_paris);

async fn history_date_follows_the_configured_time_zone(postgres: bool) {
    let Some(app) = TestApp::spawn_with(postgres, |f| {
        f.merge(("rate_limit_auth_max", 10_000)).merge(("time_zone", "America/New_York"))
    })
    .await
    else {
        return;
    };
    let mut user = app.sign_up("NewYork").await;
    let cases = [
        ("2025-12-31T23:30:00.000Z", "31/12"), // 18:30 in New York, already 1 January in Paris
        ("2026-01-01T04:30:00.000Z", "31/12"), // 23:30 in New York
        ("2026-01-01T05:30:00.000Z", "01/01"), // 00:30 in New York
        ("2025-07-15T03:30:00.000Z", "14/07"), // 23:30 EDT (UTC−4)
        ("2025-07-15T04:30:00.000Z", "15/07"), // 00:30 EDT
    ];
    let mut order = cases.to_vec();
    order.sort();
    for (iso, _) in &order {
        set_now(&app, iso);
        // A session from this "now" (the instants span more than a session's 7 days).
        user = sign_in_again(&app, &user).await;
        save(&app, &user, &valid()).await;
    }
    let items = history(&app, &user, "").await;
    let got: Vec<(&str, &str)> =
        items.iter().map(|i| (&i["createdAt"].as_str().unwrap()[..19], i["date"].as_str().unwrap())).collect();
    let expected: Vec<(&str, &str)> = order.iter().map(|(iso, d)| (&iso[..19], *d)).collect();
    assert_eq!(got, expected);
}
on_both_backends!(history_date_follows_the_configured_time_zone);

async fn another_users_scores_are_never_included(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    let a = app.sign_up("Alice").await;
    let b = app.sign_up("Bob").await;
    save(&app, &a, &game(3, 10, &["Europe"], "quiz", Some(10))).await;
    for s in [9, 8, 7] {
        save(&app, &b, &game(s, 10, &["Europe"], "quiz", Some(10))).await;
    }
    assert_eq!(scores_of(&history(&app, &a, "").await), [3]);
    assert_eq!(scores_of(&history(&app, &b, "").await), [9, 8, 7]);
    assert_eq!(stats(&app, &a).await, json!({"totalGames": 1, "bestScore": 3, "averageScore": 3, "totalScore": 3}));
    let c = app.sign_up("Carol").await;
    assert_eq!(history(&app, &c, "").await, Vec::<Value>::new());
    assert_eq!(stats(&app, &c).await, json!({"totalGames": 0, "bestScore": 0, "averageScore": 0, "totalScore": 0}));
    // Nothing leaks another user's identity or email.
    let all = json!([history(&app, &a, "?limit=100").await, stats(&app, &a).await]).to_string();
    assert!(!all.contains(&b.id) && !all.contains(&b.email) && !all.contains("@example.com"), "{all}");
}
on_both_backends!(another_users_scores_are_never_included);

#[tokio::test]
async fn deleting_the_history_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let res = app.client.delete(app.url("/api/scores/history")).send().await.unwrap();
    let allow = header(&res, "allow").expect("an Allow header");
    assert!(allow.contains("GET"), "{allow}");
    assert!(!allow.contains("DELETE"), "{allow}");
    assert_eq!(json(res).await, (405, json!({"error": "Méthode non autorisée", "code": "method_not_allowed"})));
    // And a wrong method on the POST-only route.
    let res = app.client.put(app.url("/api/scores")).send().await.unwrap();
    let allow = header(&res, "allow").expect("an Allow header");
    assert!(allow.contains("POST"), "{allow}");
    assert_eq!(json(res).await, (405, json!({"error": "Méthode non autorisée", "code": "method_not_allowed"})));
}

// ---------------------------------------------------------------------------------------------------------
// GET /api/scores/stats (checklist 61)
// ---------------------------------------------------------------------------------------------------------

async fn stats_aggregate_every_solo_game(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    // (scores, expected stats)
    let cases: [(&[i64], Value); 6] = [
        (&[], json!({"totalGames": 0, "bestScore": 0, "averageScore": 0, "totalScore": 0})),
        (&[3, 5, 6], json!({"totalGames": 3, "bestScore": 6, "averageScore": 5, "totalScore": 14})),
        (&[1, 2], json!({"totalGames": 2, "bestScore": 2, "averageScore": 2, "totalScore": 3})), // 1.5 → 2
        (&[2, 3], json!({"totalGames": 2, "bestScore": 3, "averageScore": 3, "totalScore": 5})), // 2.5 → 3, not 2
        (&[1, 1, 2], json!({"totalGames": 3, "bestScore": 2, "averageScore": 1, "totalScore": 4})), // 1.33 → 1
        (&[0], json!({"totalGames": 1, "bestScore": 0, "averageScore": 0, "totalScore": 0})),
    ];
    for (i, (scores, expected)) in cases.iter().enumerate() {
        let user = app.sign_up(&format!("Stats{i}")).await;
        for (n, s) in scores.iter().enumerate() {
            // Training games count too (all modes).
            let mode = if n % 2 == 1 { "training" } else { "quiz" };
            save(&app, &user, &game(*s, 10, &["Europe"], mode, None)).await;
        }
        assert_eq!(&stats(&app, &user).await, expected, "scores {scores:?}");
    }
    // bestScore is the highest score as stored, whatever the number of questions.
    let user = app.sign_up("Raw").await;
    save(&app, &user, &game(5, 5, &["Océanie"], "quiz", Some(10))).await;
    save(&app, &user, &game(9, 40, &["Asie"], "training", Some(10))).await;
    assert_eq!(stats(&app, &user).await, json!({"totalGames": 2, "bestScore": 9, "averageScore": 7, "totalScore": 14}));
}
on_both_backends!(stats_aggregate_every_solo_game);
