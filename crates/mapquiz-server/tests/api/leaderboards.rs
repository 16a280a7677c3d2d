//! Leaderboards (issue 5): parameters, best game per player, ranking and shared ranks, training games left
//! out, boards keyed by the set of regions, calendar periods in the configured time zone, `limit`,
//! `around=me` far from the top, the friends scope, and never an email address.

use crate::scores::{assert_invalid, game, millis_of, save, set_now, unauthorized};
use crate::support::auth::{has_key_anywhere, is_tag, keys, roomy_app, set, sign_in_again};
use crate::support::{TestApp, TestUser, json, on_both_backends};
use mapquiz_server::clock::Clock as _;
use serde_json::{Value, json};

const ENTRY_KEYS: &[&str] = &["rank", "user", "score", "totalQuestions", "duration", "achievedAt"];

/// An ordinary "now", far from any local midnight, for tests that are not about periods.
const NOON: &str = "2026-03-10T12:00:00.000Z";

/// Asserts the shape of one entry (and that its user is public fields only).
fn assert_entry(e: &Value) {
    assert_eq!(keys(e), set(ENTRY_KEYS), "{e}");
    assert!(e["rank"].as_i64().is_some_and(|r| r >= 1), "{e}");
    assert_eq!(keys(&e["user"]), set(&["id", "name", "image", "tag"]), "{e}");
    assert!(e["user"]["id"].is_string() && e["user"]["name"].as_str().is_some_and(|n| !n.is_empty()), "{e}");
    assert!(e["user"]["image"].is_null() || e["user"]["image"].is_string(), "{e}");
    assert!(e["user"]["tag"].as_str().is_some_and(is_tag), "{e}");
    assert!(e["score"].is_i64() && e["totalQuestions"].is_i64(), "{e}");
    assert!(e["duration"].is_null() || e["duration"].is_i64(), "{e}");
    millis_of(&e["achievedAt"]);
}

/// Ranks of a top list follow competition ranking: 1, then each rank is the previous one (a tie) or the
/// position.
fn assert_competition_ranks(entries: &[Value]) {
    for (i, e) in entries.iter().enumerate() {
        let rank = e["rank"].as_i64().unwrap();
        let position = i64::try_from(i).unwrap() + 1;
        let ok = if i == 0 { rank == 1 } else { rank == position || rank == entries[i - 1]["rank"].as_i64().unwrap() };
        assert!(ok, "rank {rank} at position {position}: {entries:?}");
    }
}

/// GET /api/leaderboards?`query` as `user`: asserts 200, the answer's shape and that no email appears.
async fn board(app: &TestApp, user: &TestUser, query: &str) -> Value {
    let (status, body) = json(app.get_as(user, &format!("/api/leaderboards?{query}")).await).await;
    assert_eq!(status, 200, "?{query}: {body}");
    let mut expected = vec!["regions", "period", "periodStart", "scope", "entries"];
    if query.split('&').any(|p| p == "around=me") {
        expected.push("around");
    }
    assert_eq!(keys(&body), set(&expected), "?{query}: {body}");
    assert!(!has_key_anywhere(&body, "email"), "an email key: {body}");
    assert!(!body.to_string().contains("@example.com"), "an email address: {body}");
    let entries = body["entries"].as_array().unwrap_or_else(|| panic!("entries is an array: {body}"));
    entries.iter().for_each(assert_entry);
    assert_competition_ranks(entries);
    if let Some(around) = body.get("around").filter(|a| !a.is_null()) {
        assert_eq!(keys(around), set(&["rank", "entries"]), "{body}");
        let rows = around["entries"].as_array().unwrap();
        rows.iter().for_each(assert_entry);
        assert!(rows.iter().any(|e| e["user"]["id"] == user.id.as_str()), "the caller is in around: {body}");
        let mine = rows.iter().find(|e| e["user"]["id"] == user.id.as_str()).unwrap();
        assert_eq!(around["rank"], mine["rank"], "around.rank is the caller's: {body}");
    }
    body
}

/// `[rank, name, score, totalQuestions, duration]` per entry.
fn table(entries: &Value) -> Value {
    Value::Array(
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| json!([e["rank"], e["user"]["name"], e["score"], e["totalQuestions"], e["duration"]]))
            .collect(),
    )
}

/// `[rank, name]` per entry.
fn names(entries: &Value) -> Value {
    Value::Array(entries.as_array().unwrap().iter().map(|e| json!([e["rank"], e["user"]["name"]])).collect())
}

/// Asserts every entry's user is the signed-up user of that id, with its public fields.
fn assert_users(body: &Value, users: &[&TestUser]) {
    let mut rows: Vec<&Value> = body["entries"].as_array().unwrap().iter().collect();
    if let Some(a) = body.get("around").and_then(|a| a.get("entries")) {
        rows.extend(a.as_array().unwrap());
    }
    for e in rows {
        let u = users.iter().find(|u| e["user"]["id"] == u.id.as_str()).unwrap_or_else(|| panic!("unknown {e}"));
        assert_eq!(e["user"], json!({"id": u.id, "name": u.name, "image": null, "tag": u.tag}), "{e}");
    }
}

async fn befriend(app: &TestApp, a: &TestUser, b: &TestUser) {
    app.state.store.add_friendship(&a.id, &b.id, app.clock.now()).await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------
// Parameters and authentication
// ---------------------------------------------------------------------------------------------------------

async fn parameters_are_validated_after_authentication(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, NOON);
    let user = app.sign_up("Params").await;
    save(&app, &user, &game(5, 10, &["Europe"], "quiz", Some(30))).await;

    for path in ["/api/leaderboards?regions=Europe", "/api/leaderboards", "/api/leaderboards?regions=Europe&period=x"] {
        assert_eq!(json(app.get(path).await).await, (401, unauthorized()), "{path}");
    }
    let res = app.client.get(app.url("/api/leaderboards?regions=Europe")).header("cookie", "junk=1").send().await;
    assert_eq!(json(res.unwrap()).await, (401, unauthorized()));

    let cases = [
        ("", "Paramètre regions invalide"),
        ("period=all", "Paramètre regions invalide"),
        ("regions=", "Paramètre regions invalide"),
        ("regions=Australie", "Paramètre regions invalide"),
        ("regions=Europe,Australie", "Paramètre regions invalide"),
        ("regions=europe", "Paramètre regions invalide"),
        ("regions=Oce%CC%81anie", "Paramètre regions invalide"),
        ("regions=Europe&period=year", "Paramètre period invalide"),
        ("regions=Europe&period=WEEK", "Paramètre period invalide"),
        ("regions=Europe&period=days", "Paramètre period invalide"),
        ("regions=Europe&scope=everyone", "Paramètre scope invalide"),
        ("regions=Europe&scope=Friends", "Paramètre scope invalide"),
        ("regions=Europe&limit=0", "Paramètre limit invalide"),
        ("regions=Europe&limit=101", "Paramètre limit invalide"),
        ("regions=Europe&limit=x", "Paramètre limit invalide"),
        ("regions=Europe&limit=-1", "Paramètre limit invalide"),
        ("regions=Europe&limit=1.5", "Paramètre limit invalide"),
        ("regions=Europe&around=you", "Paramètre around invalide"),
        ("regions=Europe&around=ME", "Paramètre around invalide"),
        ("regions=Europe&around=1", "Paramètre around invalide"),
    ];
    for (query, message) in cases {
        let (status, body) = json(app.get_as(&user, &format!("/api/leaderboards?{query}")).await).await;
        assert_invalid(status, &body, message);
    }

    // Defaults: all time, global, no `around` key.
    let body = board(&app, &user, "regions=Europe").await;
    assert_eq!(
        (&body["regions"], &body["period"], &body["periodStart"], &body["scope"]),
        (&json!(["Europe"]), &json!("all"), &Value::Null, &json!("global"))
    );
    assert_eq!(table(&body["entries"]), json!([[1, "Params", 5, 10, 30]]));
    assert_users(&body, &[&user]);
    for ok in [
        "regions=Europe&limit=1",
        "regions=Europe&limit=100",
        "regions=Europe&period=day&scope=friends&limit=20&around=me",
        "regions=Europe&period=week",
        "regions=Europe&period=month&scope=global",
        "regions=Europe&period=all&around=me",
    ] {
        let body = board(&app, &user, ok).await;
        assert_eq!(names(&body["entries"]), json!([[1, "Params"]]), "{ok}");
    }
}
on_both_backends!(parameters_are_validated_after_authentication);

// ---------------------------------------------------------------------------------------------------------
// Best game per player
// ---------------------------------------------------------------------------------------------------------

async fn each_player_appears_once_with_their_best_game(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, NOON);
    let p = app.sign_up("Pat").await;
    let q = app.sign_up("Quinn").await;
    let europe = ["Europe"];
    let read = |expected: Value| {
        let app = &app;
        let p = &p;
        async move {
            let body = board(app, p, "regions=Europe").await;
            assert_eq!(table(&body["entries"]), expected);
            body
        }
    };

    let first = save(&app, &p, &game(8, 10, &europe, "quiz", Some(30))).await;
    let body = read(json!([[1, "Pat", 8, 10, 30]])).await;
    assert_eq!(body["entries"][0]["achievedAt"], first["createdAt"]);

    // Not better: a lower share, a longer duration, the same share and duration later, no duration.
    for worse in [
        game(6, 10, &europe, "quiz", Some(10)),
        game(8, 10, &europe, "quiz", Some(40)),
        game(8, 10, &europe, "quiz", Some(30)),
        game(16, 20, &europe, "quiz", Some(30)),
        game(8, 10, &europe, "quiz", None),
    ] {
        save(&app, &p, &worse).await;
        let body = read(json!([[1, "Pat", 8, 10, 30]])).await;
        assert_eq!(body["entries"][0]["achievedAt"], first["createdAt"], "{worse} does not replace the best");
    }

    // Better: the same share faster, then a higher share even if much slower.
    let faster = save(&app, &p, &game(8, 10, &europe, "quiz", Some(20))).await;
    let body = read(json!([[1, "Pat", 8, 10, 20]])).await;
    assert_eq!(body["entries"][0]["achievedAt"], faster["createdAt"]);
    let higher = save(&app, &p, &game(17, 20, &europe, "quiz", Some(2000))).await;
    let body = read(json!([[1, "Pat", 17, 20, 2000]])).await;
    assert_eq!(body["entries"][0]["achievedAt"], higher["createdAt"]);

    // Any duration beats no duration at the same share.
    save(&app, &q, &game(5, 10, &europe, "quiz", None)).await;
    read(json!([[1, "Pat", 17, 20, 2000], [2, "Quinn", 5, 10, null]])).await;
    let timed = save(&app, &q, &game(5, 10, &europe, "quiz", Some(86_400))).await;
    let body = read(json!([[1, "Pat", 17, 20, 2000], [2, "Quinn", 5, 10, 86_400]])).await;
    assert_eq!(body["entries"][1]["achievedAt"], timed["createdAt"]);
    assert_users(&body, &[&p, &q]);

    // The same bests on this day's, week's and month's boards.
    for period in ["day", "week", "month"] {
        let body = board(&app, &p, &format!("regions=Europe&period={period}")).await;
        assert_eq!(table(&body["entries"]), json!([[1, "Pat", 17, 20, 2000], [2, "Quinn", 5, 10, 86_400]]));
    }
}
on_both_backends!(each_player_appears_once_with_their_best_game);

// ---------------------------------------------------------------------------------------------------------
// Ranking
// ---------------------------------------------------------------------------------------------------------

async fn ranking_by_share_then_duration_then_earlier_with_shared_ranks(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, NOON);
    let mut users = Vec::new();
    // In posting order (A before C, so A is earlier at the same share and duration).
    for (name, score, total, duration) in [
        ("A", 9, 10, Some(60)),     // 0.9, 60 s
        ("B", 17, 20, Some(10)),    // 0.85: below every 0.9 however fast
        ("C", 18, 20, Some(60)),    // 0.9, 60 s: ties with A (same rank), listed after A (later)
        ("D", 9, 10, Some(50)),     // 0.9, shorter
        ("E", 9, 10, None),         // 0.9, no duration: after every 0.9 with a duration
        ("F", 9, 10, Some(86_400)), // 0.9, the longest duration
        ("G", 1, 1, None),          // 1.0 beats everything, duration or not
        ("H", 0, 5, Some(1)),       // 0
    ] {
        let u = app.sign_up(name).await;
        save(&app, &u, &game(score, total, &["Asie"], "quiz", duration)).await;
        users.push(u);
    }
    let caller = &users[0];
    let body = board(&app, caller, "regions=Asie").await;
    assert_eq!(
        table(&body["entries"]),
        json!([
            [1, "G", 1, 1, null],
            [2, "D", 9, 10, 50],
            [3, "A", 9, 10, 60],
            [3, "C", 18, 20, 60],
            [5, "F", 9, 10, 86_400],
            [6, "E", 9, 10, null],
            [7, "B", 17, 20, 10],
            [8, "H", 0, 5, 1],
        ])
    );
    assert_users(&body, &users.iter().collect::<Vec<_>>());
    let achieved: Vec<i64> = ["A", "C"]
        .iter()
        .map(|n| {
            let e = body["entries"].as_array().unwrap().iter().find(|e| e["user"]["name"] == *n).unwrap();
            millis_of(&e["achievedAt"])
        })
        .collect();
    assert!(achieved[0] <= achieved[1], "the earlier game first among equals: {achieved:?}");

    // `limit` cuts the list, ties or not.
    let body = board(&app, caller, "regions=Asie&limit=4").await;
    assert_eq!(names(&body["entries"]), json!([[1, "G"], [2, "D"], [3, "A"], [3, "C"]]));
    let body = board(&app, caller, "regions=Asie&limit=3").await;
    assert_eq!(names(&body["entries"]), json!([[1, "G"], [2, "D"], [3, "A"]]));
    let body = board(&app, caller, "regions=Asie&limit=1").await;
    assert_eq!(names(&body["entries"]), json!([[1, "G"]]));

    // The shape the issue names: 1, 1, 3.
    let mut trio = Vec::new();
    for (name, score, total, duration) in [("X", 9, 10, 50), ("Y", 18, 20, 50), ("Z", 9, 10, 51)] {
        let u = app.sign_up(name).await;
        save(&app, &u, &game(score, total, &["Afrique"], "quiz", Some(duration))).await;
        trio.push(u);
    }
    let body = board(&app, &trio[2], "regions=Afrique&around=me").await;
    assert_eq!(table(&body["entries"]), json!([[1, "X", 9, 10, 50], [1, "Y", 18, 20, 50], [3, "Z", 9, 10, 51]]));
    assert_eq!(body["around"]["rank"], 3);
    let body = board(&app, &trio[1], "regions=Afrique&around=me").await;
    assert_eq!(body["around"]["rank"], 1, "a shared rank is the caller's rank: {body}");
}
on_both_backends!(ranking_by_share_then_duration_then_earlier_with_shared_ranks);

async fn training_games_never_enter_a_leaderboard(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, NOON);
    let trainer = app.sign_up("Trainer").await;
    let mixed = app.sign_up("Mixed").await;
    save(&app, &trainer, &game(10, 10, &["Europe"], "training", Some(1))).await;
    save(&app, &mixed, &game(5, 10, &["Europe"], "quiz", Some(60))).await;
    save(&app, &mixed, &game(10, 10, &["Europe"], "training", Some(1))).await;
    for period in ["day", "week", "month", "all"] {
        for scope in ["global", "friends"] {
            let q = format!("regions=Europe&period={period}&scope={scope}&around=me");
            let body = board(&app, &trainer, &q).await;
            let expected = if scope == "global" { json!([[1, "Mixed", 5, 10, 60]]) } else { json!([]) };
            assert_eq!(table(&body["entries"]), expected, "{q}");
            assert_eq!(body["around"], Value::Null, "a player with only training games has no entry: {q}");
            let body = board(&app, &mixed, &q).await;
            assert_eq!(table(&body["entries"]), json!([[1, "Mixed", 5, 10, 60]]), "{q}");
            assert_eq!(body["around"]["rank"], 1);
        }
    }
}
on_both_backends!(training_games_never_enter_a_leaderboard);

// ---------------------------------------------------------------------------------------------------------
// Boards are keyed by the set of regions
// ---------------------------------------------------------------------------------------------------------

async fn each_set_of_regions_is_its_own_board(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, NOON);
    let a = app.sign_up("Ana").await;
    let b = app.sign_up("Ben").await;
    let c = app.sign_up("Cy").await;
    let d = app.sign_up("Dee").await;
    let e = app.sign_up("Eve").await;
    save(&app, &a, &game(5, 10, &["Europe", "Asie"], "quiz", Some(10))).await;
    save(&app, &b, &game(6, 10, &["Asie", "Europe"], "quiz", Some(10))).await;
    save(&app, &c, &game(9, 10, &["Europe"], "quiz", Some(10))).await;
    save(&app, &d, &game(10, 10, &["Asie", "Europe", "Afrique"], "quiz", Some(10))).await;
    save(&app, &e, &game(3, 10, &["Amérique du Sud", "Amérique du Nord"], "quiz", Some(10))).await;

    for q in ["regions=Europe,Asie", "regions=Asie,Europe", "regions=Asie,Europe,Asie", "regions=Europe,Europe,Asie"] {
        let body = board(&app, &a, q).await;
        assert_eq!(body["regions"], json!(["Asie", "Europe"]), "sorted distinct: {q}");
        assert_eq!(table(&body["entries"]), json!([[1, "Ben", 6, 10, 10], [2, "Ana", 5, 10, 10]]), "{q}");
    }
    let body = board(&app, &a, "regions=Europe").await;
    assert_eq!(table(&body["entries"]), json!([[1, "Cy", 9, 10, 10]]));
    let body = board(&app, &a, "regions=Asie").await;
    assert_eq!((&body["regions"], table(&body["entries"])), (&json!(["Asie"]), json!([])));
    let body = board(&app, &a, "regions=Europe,Afrique,Asie").await;
    assert_eq!(body["regions"], json!(["Afrique", "Asie", "Europe"]));
    assert_eq!(table(&body["entries"]), json!([[1, "Dee", 10, 10, 10]]));
    let body = board(&app, &a, "regions=Am%C3%A9rique%20du%20Sud,Am%C3%A9rique%20du%20Nord").await;
    assert_eq!(body["regions"], json!(["Amérique du Nord", "Amérique du Sud"]));
    assert_eq!(table(&body["entries"]), json!([[1, "Eve", 3, 10, 10]]));
    let body =
        board(&app, &a, "regions=Oc%C3%A9anie,Europe,Asie,Am%C3%A9rique%20du%20Sud,Am%C3%A9rique%20du%20Nord,Afrique")
            .await;
    assert_eq!(body["regions"], json!(["Afrique", "Amérique du Nord", "Amérique du Sud", "Asie", "Europe", "Océanie"]));
    assert_eq!(table(&body["entries"]), json!([]));
    // A board with no game answers the same shape, and around=me is null there.
    let body = board(&app, &a, "regions=Oc%C3%A9anie&around=me").await;
    assert_eq!((&body["entries"], &body["around"]), (&json!([]), &Value::Null));
}
on_both_backends!(each_set_of_regions_is_its_own_board);

// ---------------------------------------------------------------------------------------------------------
// Periods: calendar day, week from Monday, month, in the configured time zone
// ---------------------------------------------------------------------------------------------------------

/// Reads the day, week, month and all-time boards of `Europe` and compares `(periodStart, table)`.
async fn assert_periods(app: &TestApp, user: &TestUser, when: &str, expected: [(Value, Value); 4]) {
    for (period, (start, rows)) in ["day", "week", "month", "all"].into_iter().zip(expected) {
        let body = board(app, user, &format!("regions=Europe&period={period}")).await;
        assert_eq!(body["period"], period);
        assert_eq!(
            (&body["periodStart"], table(&body["entries"])),
            (&start, rows),
            "{period} board read at {when} (Europe/Paris unless configured)"
        );
    }
}

async fn periods_follow_the_paris_calendar(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    // Sunday 29 November 2026, 23:30 in Paris: the week of Monday 23 November.
    let when = "2026-11-29T22:30:00.000Z";
    set_now(&app, when);
    let a = app.sign_up("Amy").await;
    let b = app.sign_up("Bo").await;
    let c = app.sign_up("Cleo").await;
    let d = app.sign_up("Dan").await;
    let europe = ["Europe"];
    save(&app, &a, &game(10, 10, &europe, "quiz", Some(10))).await;
    let amy = json!([1, "Amy", 10, 10, 10]);
    assert_periods(
        &app,
        &a,
        when,
        [
            (json!("2026-11-29"), json!([amy])),
            (json!("2026-11-23"), json!([amy])),
            (json!("2026-11-01"), json!([amy])),
            (Value::Null, json!([amy])),
        ],
    )
    .await;

    // Monday 30 November, 00:30 in Paris (still Sunday in UTC): a new day and a new week.
    let when = "2026-11-29T23:30:00.000Z";
    set_now(&app, when);
    save(&app, &b, &game(9, 10, &europe, "quiz", Some(10))).await;
    assert_periods(
        &app,
        &a,
        when,
        [
            (json!("2026-11-30"), json!([[1, "Bo", 9, 10, 10]])),
            (json!("2026-11-30"), json!([[1, "Bo", 9, 10, 10]])),
            (json!("2026-11-01"), json!([amy, [2, "Bo", 9, 10, 10]])),
            (Value::Null, json!([amy, [2, "Bo", 9, 10, 10]])),
        ],
    )
    .await;

    // Monday 30 November, 23:30 in Paris: the same day.
    let when = "2026-11-30T22:30:00.000Z";
    set_now(&app, when);
    save(&app, &c, &game(8, 10, &europe, "quiz", Some(10))).await;
    let bo_cleo = json!([[1, "Bo", 9, 10, 10], [2, "Cleo", 8, 10, 10]]);
    assert_periods(
        &app,
        &c,
        when,
        [
            (json!("2026-11-30"), bo_cleo.clone()),
            (json!("2026-11-30"), bo_cleo),
            (json!("2026-11-01"), json!([amy, [2, "Bo", 9, 10, 10], [3, "Cleo", 8, 10, 10]])),
            (Value::Null, json!([amy, [2, "Bo", 9, 10, 10], [3, "Cleo", 8, 10, 10]])),
        ],
    )
    .await;

    // Tuesday 1 December, 00:30 in Paris (still 30 November in UTC): a new day and a new month, same week.
    // Amy plays badly: her best of this day, week and month is that game; her all-time best stays.
    let when = "2026-11-30T23:30:00.000Z";
    set_now(&app, when);
    save(&app, &d, &game(7, 10, &europe, "quiz", Some(10))).await;
    save(&app, &a, &game(1, 10, &europe, "quiz", Some(10))).await;
    assert_periods(
        &app,
        &d,
        when,
        [
            (json!("2026-12-01"), json!([[1, "Dan", 7, 10, 10], [2, "Amy", 1, 10, 10]])),
            (
                json!("2026-11-30"),
                json!([[1, "Bo", 9, 10, 10], [2, "Cleo", 8, 10, 10], [3, "Dan", 7, 10, 10], [4, "Amy", 1, 10, 10]]),
            ),
            (json!("2026-12-01"), json!([[1, "Dan", 7, 10, 10], [2, "Amy", 1, 10, 10]])),
            (Value::Null, json!([amy, [2, "Bo", 9, 10, 10], [3, "Cleo", 8, 10, 10], [4, "Dan", 7, 10, 10]])),
        ],
    )
    .await;

    // A week later (Monday 7 December, 01:30 in Paris): empty day and week, the month goes on.
    let when = "2026-12-07T00:30:00.000Z";
    set_now(&app, when);
    let a = sign_in_again(&app, &a).await; // the first session has expired (7 days)
    assert_periods(
        &app,
        &a,
        when,
        [
            (json!("2026-12-07"), json!([])),
            (json!("2026-12-07"), json!([])),
            (json!("2026-12-01"), json!([[1, "Dan", 7, 10, 10], [2, "Amy", 1, 10, 10]])),
            (Value::Null, json!([amy, [2, "Bo", 9, 10, 10], [3, "Cleo", 8, 10, 10], [4, "Dan", 7, 10, 10]])),
        ],
    )
    .await;
    let body = board(&app, &a, "regions=Europe&period=week&around=me").await;
    assert_eq!(body["around"], Value::Null, "no game this week");
}
on_both_backends!(periods_follow_the_paris_calendar);

async fn a_week_spans_the_new_year(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    // Wednesday 31 December 2025, 23:30 in Paris.
    let when = "2025-12-31T22:30:00.000Z";
    set_now(&app, when);
    let a = app.sign_up("Old").await;
    let b = app.sign_up("New").await;
    save(&app, &a, &game(5, 10, &["Europe"], "quiz", Some(10))).await;
    let old = json!([1, "Old", 5, 10, 10]);
    assert_periods(
        &app,
        &a,
        when,
        [
            (json!("2025-12-31"), json!([old])),
            (json!("2025-12-29"), json!([old])),
            (json!("2025-12-01"), json!([old])),
            (Value::Null, json!([old])),
        ],
    )
    .await;
    // Thursday 1 January 2026, 00:30 in Paris: new day, month and year; the week of Monday 29 December.
    let when = "2025-12-31T23:30:00.000Z";
    set_now(&app, when);
    save(&app, &b, &game(6, 10, &["Europe"], "quiz", Some(10))).await;
    let both = json!([[1, "New", 6, 10, 10], [2, "Old", 5, 10, 10]]);
    assert_periods(
        &app,
        &b,
        when,
        [
            (json!("2026-01-01"), json!([[1, "New", 6, 10, 10]])),
            (json!("2025-12-29"), both.clone()),
            (json!("2026-01-01"), json!([[1, "New", 6, 10, 10]])),
            (Value::Null, both),
        ],
    )
    .await;
}
on_both_backends!(a_week_spans_the_new_year);

async fn periods_follow_the_configured_time_zone(postgres: bool) {
    let Some(app) = TestApp::spawn_with(postgres, |f| {
        f.merge(("rate_limit_auth_max", 10_000)).merge(("time_zone", "America/New_York"))
    })
    .await
    else {
        return;
    };
    // Monday 30 November 2026, 04:00 in Paris, but Sunday 29 November, 22:00 in New York.
    let when = "2026-11-30T03:00:00.000Z";
    set_now(&app, when);
    let a = app.sign_up("Gotham").await;
    save(&app, &a, &game(5, 10, &["Europe"], "quiz", Some(10))).await;
    let row = json!([[1, "Gotham", 5, 10, 10]]);
    assert_periods(
        &app,
        &a,
        when,
        [
            (json!("2026-11-29"), row.clone()),
            (json!("2026-11-23"), row.clone()),
            (json!("2026-11-01"), row.clone()),
            (Value::Null, row.clone()),
        ],
    )
    .await;
    // Monday 30 November, 07:00 in New York: a new day and week there.
    let when = "2026-11-30T12:00:00.000Z";
    set_now(&app, when);
    assert_periods(
        &app,
        &a,
        when,
        [
            (json!("2026-11-30"), json!([])),
            (json!("2026-11-30"), json!([])),
            (json!("2026-11-01"), row.clone()),
            (Value::Null, row),
        ],
    )
    .await;
    // And 30 November 23:30 New York time is 1 December in UTC: still November there.
    set_now(&app, "2026-12-01T04:30:00.000Z");
    let body = board(&app, &a, "regions=Europe&period=month").await;
    assert_eq!(body["periodStart"], "2026-11-01");
}
on_both_backends!(periods_follow_the_configured_time_zone);

// ---------------------------------------------------------------------------------------------------------
// around=me
// ---------------------------------------------------------------------------------------------------------

async fn around_me_far_from_the_top(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, NOON);
    // 40 players, P01 best (40/50) down to P40 (1/50).
    let mut players = Vec::new();
    for i in 1..=40i64 {
        let u = app.sign_up(&format!("P{i:02}")).await;
        save(&app, &u, &game(41 - i, 50, &["Europe"], "quiz", Some(60))).await;
        players.push(u);
    }
    let row = |rank: i64| json!([rank, format!("P{rank:02}"), 41 - rank, 50, 60]);
    let rows = |ranks: std::ops::RangeInclusive<i64>| Value::Array(ranks.map(row).collect());
    let everyone: Vec<&TestUser> = players.iter().collect();

    let caller = &players[29];
    let body = board(&app, caller, "regions=Europe&around=me").await;
    assert_eq!(table(&body["entries"]), rows(1..=20), "the top 20 by default");
    assert_eq!(body["around"]["rank"], 30);
    assert_eq!(table(&body["around"]["entries"]), rows(28..=32), "two above, the caller, two below");
    assert_eq!(body["around"]["entries"][2]["user"]["id"], caller.id.as_str());
    assert_users(&body, &everyone);

    let body = board(&app, caller, "regions=Europe&around=me&limit=5").await;
    assert_eq!(table(&body["entries"]), rows(1..=5));
    assert_eq!(table(&body["around"]["entries"]), rows(28..=32), "`limit` does not cut `around`");
    let body = board(&app, caller, "regions=Europe&limit=100").await;
    assert_eq!(table(&body["entries"]), rows(1..=40));

    // At the top: nobody above.
    let body = board(&app, &players[0], "regions=Europe&around=me").await;
    assert_eq!((&body["around"]["rank"], table(&body["around"]["entries"])), (&json!(1), rows(1..=3)));
    let body = board(&app, &players[1], "regions=Europe&around=me").await;
    assert_eq!((&body["around"]["rank"], table(&body["around"]["entries"])), (&json!(2), rows(1..=4)));
    // At the bottom: nobody below.
    let body = board(&app, &players[39], "regions=Europe&around=me").await;
    assert_eq!((&body["around"]["rank"], table(&body["around"]["entries"])), (&json!(40), rows(38..=40)));
    let body = board(&app, &players[38], "regions=Europe&around=me").await;
    assert_eq!((&body["around"]["rank"], table(&body["around"]["entries"])), (&json!(39), rows(37..=40)));
    // Inside the top list, around still answers.
    let body = board(&app, &players[9], "regions=Europe&around=me").await;
    assert_eq!((&body["around"]["rank"], table(&body["around"]["entries"])), (&json!(10), rows(8..=12)));

    // A caller without an entry gets `around: null`; without `around=me` the key is absent.
    let outsider = app.sign_up("Outsider").await;
    let body = board(&app, &outsider, "regions=Europe&around=me").await;
    assert_eq!(body["around"], Value::Null);
    assert_eq!(table(&body["entries"]), rows(1..=20));
    let body = board(&app, caller, "regions=Europe").await;
    assert!(body.get("around").is_none(), "{body}");
    // A caller with an entry on another board only.
    save(&app, &outsider, &game(1, 1, &["Asie"], "quiz", Some(1))).await;
    let body = board(&app, &outsider, "regions=Europe&around=me").await;
    assert_eq!(body["around"], Value::Null);
}
on_both_backends!(around_me_far_from_the_top);

// ---------------------------------------------------------------------------------------------------------
// Friends scope
// ---------------------------------------------------------------------------------------------------------

async fn the_friends_scope_ranks_the_caller_and_their_friends(postgres: bool) {
    let Some(app) = roomy_app(postgres).await else { return };
    set_now(&app, NOON);
    let a = app.sign_up("Ava").await;
    let b = app.sign_up("Bea").await;
    let c = app.sign_up("Cal").await;
    let d = app.sign_up("Dax").await; // nobody's friend, best overall
    let e = app.sign_up("Eli").await; // Bea's friend, not Ava's
    let f = app.sign_up("Fay").await; // nobody's friend
    let g = app.sign_up("Gus").await; // Ava's friend, no games
    befriend(&app, &a, &b).await;
    befriend(&app, &a, &c).await;
    befriend(&app, &b, &e).await;
    befriend(&app, &g, &a).await;
    for (u, score) in [(&d, 20), (&e, 19), (&b, 18), (&a, 16), (&c, 14), (&f, 12)] {
        save(&app, u, &game(score, 20, &["Europe"], "quiz", Some(30))).await;
    }
    let everyone = [&a, &b, &c, &d, &e, &f, &g];

    let body = board(&app, &a, "regions=Europe&scope=friends&around=me").await;
    assert_eq!(body["scope"], "friends");
    assert_eq!(names(&body["entries"]), json!([[1, "Bea"], [2, "Ava"], [3, "Cal"]]));
    assert_eq!(body["around"]["rank"], 2);
    assert_eq!(names(&body["around"]["entries"]), json!([[1, "Bea"], [2, "Ava"], [3, "Cal"]]));
    assert_users(&body, &everyone);

    let body = board(&app, &b, "regions=Europe&scope=friends&around=me").await;
    assert_eq!(names(&body["entries"]), json!([[1, "Eli"], [2, "Bea"], [3, "Ava"]]));
    assert_eq!(body["around"]["rank"], 2);
    let body = board(&app, &c, "regions=Europe&scope=friends").await;
    assert_eq!(names(&body["entries"]), json!([[1, "Ava"], [2, "Cal"]]));
    let body = board(&app, &d, "regions=Europe&scope=friends&around=me").await;
    assert_eq!(names(&body["entries"]), json!([[1, "Dax"]]));
    assert_eq!(body["around"]["rank"], 1);
    // A friend without games: only the friend who played, and around is null.
    let body = board(&app, &g, "regions=Europe&scope=friends&around=me").await;
    assert_eq!(names(&body["entries"]), json!([[1, "Ava"]]));
    assert_eq!(body["around"], Value::Null);
    // The same data, globally.
    let body = board(&app, &a, "regions=Europe&scope=global&around=me").await;
    assert_eq!(body["scope"], "global");
    assert_eq!(
        names(&body["entries"]),
        json!([[1, "Dax"], [2, "Eli"], [3, "Bea"], [4, "Ava"], [5, "Cal"], [6, "Fay"]])
    );
    assert_eq!(body["around"]["rank"], 4);
    assert_eq!(names(&body["around"]["entries"]), json!([[2, "Eli"], [3, "Bea"], [4, "Ava"], [5, "Cal"], [6, "Fay"]]));
    // Per period too, and limited.
    let body = board(&app, &a, "regions=Europe&scope=friends&period=day&limit=1").await;
    assert_eq!(body["periodStart"], "2026-03-10");
    assert_eq!(names(&body["entries"]), json!([[1, "Bea"]]));
}
on_both_backends!(the_friends_scope_ranks_the_caller_and_their_friends);

#[tokio::test]
async fn the_routes_are_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let (status, doc) = json(app.get("/api/openapi.json").await).await;
    assert_eq!(status, 200);
    for (path, method) in [
        ("/api/leaderboards", "get"),
        ("/api/scores", "post"),
        ("/api/scores/history", "get"),
        ("/api/scores/stats", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is documented");
    }
    let params: Vec<&str> = doc["paths"]["/api/leaderboards"]["get"]["parameters"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    for name in ["regions", "period", "scope", "limit", "around"] {
        assert!(params.contains(&name), "parameter {name} documented: {params:?}");
    }
}
