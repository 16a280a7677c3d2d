//! The original data the import tests start from, and the report `mapquiz import-original` must give for it.
//!
//! [`Fixture::seed`] writes a small community as the original left it: realistic rows (mixed-case emails,
//! players left online after a crash, OAuth tokens nobody needs, a lobby stuck in `playing`) and every kind of
//! dirt `original-schema.md` lists, one row per case so each reason of the report counts a known row. When a
//! [`Newcomer`] is given (a player who signed in on the new server before the import), the original also
//! collides with them: a tag, an email, a Google subject and a session token. Each row has one defect only,
//! so which reason it is counted under is never a matter of rule order.
//!
//! Every timestamp is at least an hour old (bar sessions' expiry), so a `--since` taken after a first run
//! reads only what the test changes afterwards.

use super::source::{Account, FriendRequest, GameScore, OriginalDb, Session, User, google_sub, utc_now, uuid_v4};
use crate::support::auth::is_tag;
use chrono::{Duration, NaiveDateTime};
use serde_json::{Map, Value, json};

/// A player who signed in with Google on the new server before the import.
#[derive(Clone, Debug)]
pub struct Newcomer {
    pub id: String,
    pub email: String,
    pub tag: String,
    /// Their session's raw token.
    pub token: String,
    /// Their Google subject.
    pub sub: String,
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// The seeded original, row by row (the tests look rows up by name).
pub struct Fixture {
    pub newcomer: Option<Newcomer>,
    /// Mixed-case email, valid tag, an image, left online: the main character.
    pub ada: User,
    /// No tag (tags were assigned lazily): one is assigned.
    pub bob: User,
    /// An invalid tag: one is assigned.
    pub carol: User,
    /// The newcomer's tag (a fresh valid one without newcomer); left online.
    pub dave: User,
    /// A name with padding and control characters.
    pub erin: User,
    /// A blank name: the email's local part is used.
    pub frank: User,
    /// A 60-character name: cut to 50 characters (not bytes).
    pub amelie: User,
    /// A `javascript:` image: dropped.
    pub heidi: User,
    /// An invalid email: skipped, with everything that is theirs.
    pub ivan: User,
    /// Created first with an email that differs from `judy_again`'s only by case and spaces: wins.
    pub judy: User,
    /// The later twin of `judy`: in conflict, skipped.
    pub judy_again: User,
    /// The newcomer's email in upper case (a fresh email without newcomer).
    pub mallory: User,
    /// Plays training games only; their Google subject is the newcomer's (a fresh one without newcomer).
    pub tom: User,
    pub ada_sub: String,
    pub bob_sub: String,
    pub ada_live: Session,
    pub ada_expired: Session,
    pub bob_live: Session,
    pub carol_live: Session,
    pub ivan_live: Session,
    /// Erin's session, whose token is the newcomer's (a fresh one without newcomer).
    pub erin_live: Session,
    pub tom_live: Session,
    pub bob_to_ada: FriendRequest,
    pub carol_to_ada: FriendRequest,
    pub frank_to_ada: FriendRequest,
    pub ada_to_amelie: FriendRequest,
    pub amelie_to_ada: FriendRequest,
    pub heidi_to_ada: FriendRequest,
    pub tom_to_ada: FriendRequest,
    pub ivan_to_ada: FriendRequest,
    pub amelie_to_amelie: FriendRequest,
    pub erin_to_bob: FriendRequest,
    /// Oldest first.
    pub ada_scores: Vec<GameScore>,
    pub bob_scores: Vec<GameScore>,
    pub tom_scores: Vec<GameScore>,
}

/// Tags the fixture keeps: each must be valid, or the test would be checking a repair it did not mean.
const VALID_TAGS: [&str; 10] = [
    "ADAL2345", "DAVE2345", "ERNE2345", "FRNK2345", "AMEL2345", "HEDY2345", "VANY2345", "JUDY2345", "JUDY3456",
    "MALR2345",
];
const TOM_TAG: &str = "TMTM2345";

impl Fixture {
    /// Writes the fixture into `source`.
    pub async fn seed(source: &OriginalDb, newcomer: Option<&Newcomer>) -> Fixture {
        assert!(VALID_TAGS.iter().chain([&TOM_TAG]).all(|t| is_tag(t)), "the fixture's kept tags are valid");
        let now = utc_now();
        let user = |name: &str, email: &str, age: i64, tag: Option<&str>| User {
            tag: tag.map(str::to_owned),
            ..User::new(name, email, now, days(age))
        };
        let ada = User {
            image: Some("https://lh3.googleusercontent.com/a/ACg8ocL-ada=s96-c".to_owned()),
            is_online: true,
            updated_at: now - days(10),
            last_seen: now - days(2),
            ..user("Ada Lovelace", "Ada.Lovelace@Example.com", 400, Some("ADAL2345"))
        };
        let bob = user("Bob", "bob@example.com", 380, None);
        let carol = user("Carol", "carol@example.com", 360, Some("abc"));
        let dave = User {
            is_online: true,
            ..user("Dave", "dave@example.com", 350, Some(newcomer.map_or("DAVE2345", |n| n.tag.as_str())))
        };
        let erin = user("  Erin\u{7}\n", "erin@example.com", 340, Some("ERNE2345"));
        let frank = user("   ", "frank.the.tank@example.com", 330, Some("FRNK2345"));
        let amelie = user(&"Amélie".repeat(10), "amelie@example.com", 320, Some("AMEL2345"));
        let heidi = User {
            image: Some("javascript:alert(document.cookie)".to_owned()),
            ..user("Heidi", "heidi@example.com", 310, Some("HEDY2345"))
        };
        let ivan = user("Ivan", "ivan.example.com", 305, Some("VANY2345"));
        let judy = user("Judy", "Judy@Example.com", 300, Some("JUDY2345"));
        let judy_again = user("Judy (nouveau téléphone)", " judy@example.com", 100, Some("JUDY3456"));
        let mallory_email = newcomer.map_or_else(|| "mallory@example.com".to_owned(), |n| n.email.to_uppercase());
        let mallory = user("Mallory", &mallory_email, 90, Some("MALR2345"));
        let tom = user("Tom", "tom@example.com", 80, Some(TOM_TAG));
        for u in [&ada, &bob, &carol, &dave, &erin, &frank, &amelie, &heidi, &ivan, &judy, &judy_again, &mallory, &tom]
        {
            source.insert_user(u).await;
        }

        let (ada_sub, bob_sub) = (google_sub(), google_sub());
        let github = Account {
            provider_id: "github".to_owned(),
            account_id: "5832310".to_owned(),
            ..Account::google(&heidi, "unused")
        };
        for account in [
            Account::google(&ada, &ada_sub),
            Account::google(&bob, &bob_sub),
            Account::google(&carol, &google_sub()),
            github,
            Account::google(&ivan, &google_sub()),
            Account::google(&judy_again, &google_sub()),
            Account::google(&tom, &newcomer.map_or_else(google_sub, |n| n.sub.clone())),
        ] {
            source.insert_account(&account).await;
        }

        let ada_live = Session::new(&ada, now + days(5));
        let ada_expired = Session::new(&ada, now - days(1));
        let bob_live = Session::new(&bob, now + days(3));
        let carol_live = Session::new(&carol, now + days(6));
        let ivan_live = Session::new(&ivan, now + days(4));
        let erin_live = Session {
            token: newcomer.map_or_else(super::source::better_auth_id, |n| n.token.clone()),
            ..Session::new(&erin, now + days(2))
        };
        let tom_live = Session { ip_address: None, user_agent: None, ..Session::new(&tom, now + days(6)) };
        for s in [&ada_live, &ada_expired, &bob_live, &carol_live, &ivan_live, &erin_live, &tom_live] {
            source.insert_session(s).await;
        }

        source.insert_friendship(&ada, &bob, now - days(200)).await;
        source.insert_friendship(&ada, &carol, now - days(150)).await;
        // Half a friendship: the original failed between its two inserts.
        source.insert_friend_row(&ada, &erin, now - days(120)).await;
        source.insert_friendship(&bob, &ivan, now - days(100)).await;
        source.insert_friend_row(&amelie, &amelie, now - days(90)).await;
        source.insert_friendship(&tom, &frank, now - days(80)).await;

        let request = |from: &User, to: &User, status: &str, sent: i64, changed: i64| {
            FriendRequest::new(from, to, status, now - days(sent), now - days(changed))
        };
        // Ada and Amélie asked each other: whichever is read second is in conflict. The earlier one also has
        // the smaller id, so it comes first whether the import reads by time or by id.
        let (first_id, second_id) = {
            let (a, b) = (uuid_v4(), uuid_v4());
            if a < b { (a, b) } else { (b, a) }
        };
        let fx = Fixture {
            bob_to_ada: request(&bob, &ada, "accepted", 201, 200),
            carol_to_ada: request(&carol, &ada, "accepted", 151, 150),
            frank_to_ada: request(&frank, &ada, "pending", 20, 20),
            ada_to_amelie: FriendRequest { id: first_id, ..request(&ada, &amelie, "pending", 12, 12) },
            amelie_to_ada: FriendRequest { id: second_id, ..request(&amelie, &ada, "pending", 11, 11) },
            heidi_to_ada: request(&heidi, &ada, "rejected", 10, 5),
            tom_to_ada: request(&tom, &ada, "rejected", 90, 60),
            ivan_to_ada: request(&ivan, &ada, "pending", 30, 30),
            amelie_to_amelie: request(&amelie, &amelie, "pending", 40, 40),
            erin_to_bob: request(&erin, &bob, "ignored", 25, 25),
            ada_scores: vec![
                GameScore::quiz(&ada, 8, 10, &["Europe"], Some(120), now - days(30)),
                GameScore::quiz(&ada, 15, 20, &["Europe", "Asie"], Some(300), now - days(20)),
                GameScore {
                    game_mode: "training".to_owned(),
                    ..GameScore::quiz(&ada, 5, 10, &["Afrique"], Some(200), now - days(15))
                },
                GameScore::quiz(&ada, 9, 10, &["Europe", "Europe"], Some(90), now - days(10)),
                GameScore {
                    game_mode: "blitz".to_owned(),
                    ..GameScore::quiz(&ada, 3, 7, &["Océanie"], Some(60), now - days(5))
                },
            ],
            bob_scores: vec![
                GameScore::quiz(&bob, 7, 10, &["Europe"], Some(-5), now - days(9)),
                GameScore::quiz(&bob, 10, 10, &["Europe"], Some(90_000), now - days(8)),
                GameScore::quiz(&bob, 6, 10, &["Europe"], None, now - days(7)),
            ],
            tom_scores: vec![
                GameScore {
                    game_mode: "training".to_owned(),
                    ..GameScore::quiz(&tom, 4, 10, &["Asie"], Some(50), now - days(4))
                },
                GameScore {
                    game_mode: "training".to_owned(),
                    ..GameScore::quiz(&tom, 6, 10, &["Asie"], Some(70), now - days(3))
                },
            ],
            newcomer: newcomer.cloned(),
            ada_sub,
            bob_sub,
            ada_live,
            ada_expired,
            bob_live,
            carol_live,
            ivan_live,
            erin_live,
            tom_live,
            ada,
            bob,
            carol,
            dave,
            erin,
            frank,
            amelie,
            heidi,
            ivan,
            judy,
            judy_again,
            mallory,
            tom,
        };
        for r in [
            &fx.bob_to_ada,
            &fx.carol_to_ada,
            &fx.frank_to_ada,
            &fx.ada_to_amelie,
            &fx.amelie_to_ada,
            &fx.heidi_to_ada,
            &fx.tom_to_ada,
            &fx.ivan_to_ada,
            &fx.amelie_to_amelie,
            &fx.erin_to_bob,
        ] {
            source.insert_friend_request(r).await;
        }

        let carol = &fx.carol;
        let rejected = [
            GameScore { selected_regions: None, ..GameScore::quiz(carol, 5, 10, &[], Some(60), now - days(50)) },
            GameScore::quiz(carol, 5, 10, &[], Some(60), now - days(49)),
            GameScore::quiz(carol, 5, 10, &["Australie"], Some(60), now - days(48)),
            GameScore::quiz(carol, 12, 10, &["Europe"], Some(60), now - days(47)),
            GameScore::quiz(carol, 0, 0, &["Europe"], Some(0), now - days(46)),
            GameScore::quiz(carol, 0, 600, &["Europe"], Some(60), now - days(45)),
            GameScore::quiz(carol, -1, 10, &["Europe"], Some(60), now - days(44)),
            GameScore::quiz(&fx.ivan, 5, 10, &["Europe"], Some(60), now - days(43)),
        ];
        for s in fx.ada_scores.iter().chain(&fx.bob_scores).chain(&fx.tom_scores).chain(&rejected) {
            source.insert_score(s).await;
        }

        source.insert_verification("email-verification:ada.lovelace@example.com", now - days(3)).await;
        source.insert_verification("reset-password:bob@example.com", now - days(2)).await;
        source.insert_stuck_lobby(&fx.ada, &[&fx.bob], now - days(1)).await;
        fx
    }

    /// The report of a first import of this fixture (`dry_run` as asked, no `--since`).
    pub fn expected_report(&self, dry_run: bool) -> Value {
        let n = i64::from(self.newcomer.is_some());
        report(
            dry_run,
            &[
                Line {
                    read: 13,
                    imported: 11 - n,
                    repaired: vec![("tag assigned", 2 + n), ("name repaired", 3), ("image dropped", 1)],
                    skipped: vec![("invalid email", 1)],
                    conflicts: vec![("email differs only by case", 1), ("email taken", n)],
                    ..Line::default()
                },
                Line {
                    read: 7,
                    imported: 4 - n,
                    skipped: vec![("provider not supported: github", 1), ("user not imported", 2)],
                    conflicts: vec![("google subject linked to another user", n)],
                    ..Line::default()
                },
                Line {
                    read: 7,
                    imported: 5 - n,
                    skipped: vec![("user not imported", 1)],
                    conflicts: vec![("token already in use", n)],
                    left_behind: vec![("expired", 1)],
                    ..Line::default()
                },
                Line {
                    read: 6,
                    imported: 4,
                    repaired: vec![("one direction only", 1)],
                    skipped: vec![("user not imported", 1), ("self", 1)],
                    ..Line::default()
                },
                Line {
                    read: 10,
                    imported: 5,
                    skipped: vec![("user not imported", 1), ("self", 1), ("unknown status", 1)],
                    conflicts: vec![("pending both ways", 1)],
                    left_behind: vec![("rejected more than 30 days ago", 1)],
                    ..Line::default()
                },
                Line {
                    read: 18,
                    imported: 10,
                    repaired: vec![
                        ("game mode unknown → quiz", 1),
                        ("negative duration → none", 1),
                        ("duration over 24 h → none", 1),
                        ("duplicate regions removed", 1),
                    ],
                    skipped: vec![
                        ("user not imported", 1),
                        ("no regions", 2),
                        ("unknown region", 1),
                        ("score above total", 1),
                        ("no questions", 1),
                        ("too many questions", 1),
                        ("negative score", 1),
                    ],
                    ..Line::default()
                },
            ],
            [2, 1, 2, 0],
        )
    }

    /// Changes the original as players kept using it after a first import, every row stamped `at`: Tom renames
    /// himself, Nina signs up (account, session, a friendship with Ada, a request to Bob, a quiz), Ada accepts
    /// Frank's request (status changed, both friend rows written).
    pub async fn play_on(&self, source: &OriginalDb, at: NaiveDateTime) -> Newcomers {
        source.rename_user(&self.tom, "Tommy", at).await;
        let nina = User { tag: Some("NNNA2345".to_owned()), ..User::new("Nina", "nina@example.com", at, days(0)) };
        source.insert_user(&nina).await;
        source.insert_account(&Account::google(&nina, &google_sub())).await;
        let nina_live = Session::new(&nina, at + days(7));
        source.insert_session(&nina_live).await;
        source.insert_friendship(&nina, &self.ada, at).await;
        let nina_to_bob = FriendRequest::new(&nina, &self.bob, "pending", at, at);
        source.insert_friend_request(&nina_to_bob).await;
        source.set_request_status(&self.frank_to_ada, "accepted", at).await;
        source.insert_friendship(&self.frank, &self.ada, at).await;
        let nina_quiz = GameScore::quiz(&nina, 10, 10, &["Europe"], Some(30), at);
        source.insert_score(&nina_quiz).await;
        Newcomers { nina, nina_live, nina_to_bob, nina_quiz }
    }

    /// The tables of the report of an import `--since` a time between a first import and [`Self::play_on`];
    /// `rerun`: of a second such import, which finds every row it reads already there.
    pub fn expected_tables_since_play_on(rerun: bool) -> Value {
        // (read, of which new) per table; the rest of what is read is Tom's and Frank's request's updates.
        let line = |read: i64, new: i64| match rerun {
            false => Line { read, imported: new, updated: read - new, ..Line::default() },
            true => Line { read, already_imported: read, ..Line::default() },
        };
        tables(&[line(2, 1), line(1, 1), line(1, 1), line(2, 2), line(2, 1), line(1, 1)])
    }
}

/// What [`Fixture::play_on`] added.
pub struct Newcomers {
    pub nina: User,
    pub nina_live: Session,
    pub nina_to_bob: FriendRequest,
    pub nina_quiz: GameScore,
}

/// An original with nothing wrong in it but what the import leaves behind on purpose (an expired session, a
/// request rejected long ago): two friends with a session each, a friendship, and a quiz each.
pub struct Clean {
    pub zoe: User,
    pub zoe_live: Session,
}

impl Clean {
    pub async fn seed(source: &OriginalDb) -> Clean {
        let now = utc_now();
        let zoe = User { tag: Some("ZZEE2345".to_owned()), ..User::new("Zoé", "zoe@example.com", now, days(90)) };
        let yann = User { tag: Some("YANN2345".to_owned()), ..User::new("Yann", "yann@example.com", now, days(80)) };
        for u in [&zoe, &yann] {
            source.insert_user(u).await;
            source.insert_account(&Account::google(u, &google_sub())).await;
        }
        let zoe_live = Session::new(&zoe, now + days(6));
        source.insert_session(&zoe_live).await;
        source.insert_session(&Session::new(&yann, now - days(3))).await;
        source.insert_friendship(&zoe, &yann, now - days(60)).await;
        source
            .insert_friend_request(&FriendRequest::new(&yann, &zoe, "rejected", now - days(75), now - days(70)))
            .await;
        source.insert_score(&GameScore::quiz(&zoe, 30, 49, &["Afrique"], Some(400), now - days(10))).await;
        source.insert_score(&GameScore::quiz(&yann, 40, 46, &["Asie"], None, now - days(9))).await;
        Clean { zoe, zoe_live }
    }

    pub fn expected_report() -> Value {
        report(
            false,
            &[
                Line { read: 2, imported: 2, ..Line::default() },
                Line { read: 2, imported: 2, ..Line::default() },
                Line { read: 2, imported: 1, left_behind: vec![("expired", 1)], ..Line::default() },
                Line { read: 1, imported: 1, ..Line::default() },
                Line { read: 1, left_behind: vec![("rejected more than 30 days ago", 1)], ..Line::default() },
                Line { read: 2, imported: 2, ..Line::default() },
            ],
            [0, 0, 0, 0],
        )
    }
}

/// The report's tables, in its order.
pub const TABLES: [&str; 6] = ["users", "accounts", "sessions", "friendships", "friend_requests", "scores"];

/// One table's expected line; reasons counted 0 are left out of their map (a reason that did not occur is
/// not listed).
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub read: i64,
    pub imported: i64,
    pub updated: i64,
    pub already_imported: i64,
    pub repaired: Vec<(&'static str, i64)>,
    pub skipped: Vec<(&'static str, i64)>,
    pub conflicts: Vec<(&'static str, i64)>,
    pub left_behind: Vec<(&'static str, i64)>,
}

fn reasons(pairs: &[(&str, i64)]) -> Value {
    Value::Object(pairs.iter().filter(|(_, n)| *n > 0).map(|(r, n)| ((*r).to_owned(), json!(n))).collect::<Map<_, _>>())
}

/// The `tables` array of a report.
pub fn tables(lines: &[Line; 6]) -> Value {
    Value::Array(
        TABLES
            .iter()
            .zip(lines)
            .map(|(table, l)| {
                json!({
                    "table": table, "read": l.read, "imported": l.imported, "updated": l.updated,
                    "already_imported": l.already_imported, "repaired": reasons(&l.repaired),
                    "skipped": reasons(&l.skipped), "conflicts": reasons(&l.conflicts),
                    "left_behind": reasons(&l.left_behind),
                })
            })
            .collect(),
    )
}

/// A whole report without `--since`; `not_imported` counts verification, game_lobby, lobby_player and
/// multiplayer_game_result rows.
pub fn report(dry_run: bool, lines: &[Line; 6], not_imported: [i64; 4]) -> Value {
    let [verification, game_lobby, lobby_player, multiplayer_game_result] = not_imported;
    json!({
        "dry_run": dry_run,
        "since": null,
        "tables": tables(lines),
        "not_imported": {
            "verification": verification, "game_lobby": game_lobby, "lobby_player": lobby_player,
            "multiplayer_game_result": multiplayer_game_result,
        },
    })
}

/// The fixture and its schema hold together on a real PostgreSQL without the import: every table has the rows
/// the expected report counts (a friendship's two rows being one pair), so a wrong count in an import test is
/// the import's, not the fixture's.
#[tokio::test]
async fn the_fixture_loads_into_the_original_schema_with_the_counted_rows() {
    let Some(source) = OriginalDb::create().await else { return };
    let fx = Fixture::seed(&source, None).await;
    let report = fx.expected_report(false);
    let read = |i: usize| report["tables"][i]["read"].as_i64().unwrap();
    assert_eq!(source.count("user").await, read(0));
    assert_eq!(source.count("account").await, read(1));
    assert_eq!(source.count("session").await, read(2));
    // Four pairs of two rows, one lone direction (Ada → Erin), one row from Amélie to herself.
    assert_eq!(source.count("friend").await, 2 * read(3) - 2);
    assert_eq!(source.count("friend_request").await, read(4));
    assert_eq!(source.count("game_score").await, read(5));
    for (table, key) in [
        ("verification", "verification"),
        ("game_lobby", "game_lobby"),
        ("lobby_player", "lobby_player"),
        ("multiplayer_game_result", "multiplayer_game_result"),
    ] {
        assert_eq!(source.count(table).await, report["not_imported"][key].as_i64().unwrap(), "{table}");
    }

    fx.play_on(&source, utc_now()).await;
    assert_eq!(source.count("user").await, read(0) + 1);
    assert_eq!(source.count("friend").await, 2 * read(3) - 2 + 4);

    let clean = OriginalDb::create().await.unwrap();
    Clean::seed(&clean).await;
    let clean_report = Clean::expected_report();
    for (i, table) in ["user", "account", "session", "friend", "friend_request", "game_score"].into_iter().enumerate() {
        let pairs = if table == "friend" { 2 } else { 1 };
        assert_eq!(clean.count(table).await, pairs * clean_report["tables"][i]["read"].as_i64().unwrap(), "{table}");
    }
}
