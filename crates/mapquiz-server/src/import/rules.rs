//! What becomes of each row of the original: imported as it is, imported repaired (where the fix is
//! unambiguous), or not imported, with the reason. Pure: the store then decides only what the database
//! holds (already imported, user missing, a unique key taken).

use super::source;
use crate::auth::crypto::sha256_hex;
use crate::ops::maintenance::REJECTED_REQUEST_RETENTION_DAYS;
use crate::scores::board_periods;
use mapquiz_domain::scores::{GameMode, MAX_DURATION_SECS, MAX_QUESTIONS, local_day, regions_key};
use mapquiz_domain::{DisplayName, Email, ImageUrl, Region, Tag, Timestamp};
use mapquiz_store::{Account, ImportFriendship, ImportRequest, ImportSession, ImportUser, NewScore, RequestStatus};

/// The provider whose accounts are imported (the original's only sign-in).
const GOOGLE: &str = "google";

/// Why a row is not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Ours would refuse it and no fix is unambiguous: the operator should know (the run fails without
    /// `--accept-skips`).
    Skipped(String),
    /// It clashes with another row over something that must be unique (fails the run too).
    Conflict(&'static str),
    /// Not carried over by design (expired, past its retention): expected, never fails the run.
    LeftBehind(&'static str),
}

/// A row ready for the store, with the repairs it needed.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked<T> {
    pub row: T,
    pub repairs: Vec<&'static str>,
}

/// A row's fate.
pub type Verdict<T> = Result<Checked<T>, Dropped>;

fn skipped<T>(reason: &str) -> Verdict<T> {
    Err(Dropped::Skipped(reason.to_owned()))
}

/// A user: email normalised as ours are; a case-duplicate (not the first created) is a conflict; the name
/// cleaned as a provider's claim is; an unusable image dropped; the tag kept when valid (`spare_tag` is given
/// in its place when it is not, or when the store finds it taken).
pub fn user(u: source::User, spare_tag: Tag) -> Verdict<ImportUser> {
    if u.email_rank > 1 {
        return Err(Dropped::Conflict("email differs only by case"));
    }
    let Ok(email) = Email::parse(&u.email) else {
        return skipped("invalid email");
    };
    let mut repairs = Vec::new();
    let name = match DisplayName::from_claim(&u.name) {
        Some(name) if name.as_str() == u.name => name.into_string(),
        cleaned => {
            repairs.push("name repaired");
            cleaned
                .or_else(|| DisplayName::from_claim(email.local_part()))
                .map_or_else(|| "Joueur".to_owned(), DisplayName::into_string)
        }
    };
    let image = match u.image.as_deref().map(ImageUrl::parse) {
        None => None,
        Some(Ok(image)) => Some(image.as_str().to_owned()),
        Some(Err(_)) => {
            repairs.push("image dropped");
            None
        }
    };
    let tag = u.tag.as_deref().and_then(|t| Tag::parse(t).ok()).filter(|t| Some(t.as_str()) == u.tag.as_deref());
    Ok(Checked {
        row: ImportUser {
            id: u.id,
            name,
            email: email.as_str().to_owned(),
            email_verified: u.email_verified,
            image,
            tag: tag.map(|t| t.as_str().to_owned()),
            spare_tag: spare_tag.as_str().to_owned(),
            last_seen: Some(u.last_seen),
            created_at: u.created_at,
            updated_at: u.updated_at,
        },
        repairs,
    })
}

/// A provider account: Google's become ours (the subject is Google's `sub`); others have no sign-in here.
pub fn account(a: source::Account) -> Verdict<Account> {
    if a.provider_id != GOOGLE {
        return Err(Dropped::Skipped(format!("provider not supported: {}", a.provider_id)));
    }
    Ok(Checked {
        row: Account {
            id: a.id,
            user_id: a.user_id,
            provider_id: GOOGLE.to_owned(),
            account_id: a.account_id,
            password_hash: None,
            created_at: a.created_at,
            updated_at: a.updated_at,
        },
        repairs: Vec::new(),
    })
}

/// A session still valid at `now`, its token hashed as ours are (the cookie the player holds stays valid).
pub fn session(s: source::Session, now: Timestamp) -> Verdict<ImportSession> {
    if s.expires_at <= now {
        return Err(Dropped::LeftBehind("expired"));
    }
    Ok(Checked {
        row: ImportSession {
            id: s.id,
            token_hash: sha256_hex(&s.token),
            user_id: s.user_id,
            expires_at: s.expires_at,
            ip_address: s.ip_address,
            user_agent: s.user_agent,
            created_at: s.created_at,
            updated_at: s.updated_at,
        },
        repairs: Vec::new(),
    })
}

/// A friendship: both directions, or one (a half-written friendship of the original, completed).
pub fn friendship(p: source::FriendPair) -> Verdict<ImportFriendship> {
    if p.user_a == p.user_b {
        return skipped("self");
    }
    let repairs = if p.rows < 2 { vec!["one direction only"] } else { Vec::new() };
    Ok(Checked { row: ImportFriendship { user_id: p.user_a, friend_id: p.user_b, created_at: p.created_at }, repairs })
}

/// A friend request; a rejection older than the `friend-requests` job's retention is left behind, as that job
/// would have deleted it.
pub fn request(r: source::Request, now: Timestamp) -> Verdict<ImportRequest> {
    if r.sender_id == r.receiver_id {
        return skipped("self");
    }
    let status = match r.status.as_str() {
        "pending" => RequestStatus::Pending,
        "accepted" => RequestStatus::Accepted,
        "rejected" => RequestStatus::Rejected,
        _ => return skipped("unknown status"),
    };
    if status == RequestStatus::Rejected
        && r.updated_at < now.plus(chrono::Duration::days(-REJECTED_REQUEST_RETENTION_DAYS))
    {
        return Err(Dropped::LeftBehind("rejected more than 30 days ago"));
    }
    Ok(Checked {
        row: ImportRequest {
            id: r.id,
            sender_id: r.sender_id,
            receiver_id: r.receiver_id,
            status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        },
        repairs: Vec::new(),
    })
}

/// A solo game, checked as `POST /api/scores` checks one; unambiguous fixes are made (an unknown mode is a
/// quiz, the original's default; an impossible duration is no duration; a region named twice counts once),
/// anything else is skipped. Quiz games get their leaderboard periods in `tz`.
pub fn score(s: source::Score, tz: chrono_tz::Tz) -> Verdict<NewScore> {
    if s.total_questions <= 0 {
        return skipped("no questions");
    }
    if i64::from(s.total_questions) > MAX_QUESTIONS {
        return skipped("too many questions");
    }
    if s.score < 0 {
        return skipped("negative score");
    }
    if s.score > s.total_questions {
        return skipped("score above total");
    }
    let names = s.selected_regions.unwrap_or_default();
    if names.is_empty() {
        return skipped("no regions");
    }
    let mut repairs = Vec::new();
    let mut regions: Vec<Region> = Vec::with_capacity(names.len());
    for name in &names {
        let Some(region) = Region::parse(name) else {
            return skipped("unknown region");
        };
        if regions.contains(&region) {
            if !repairs.contains(&"duplicate regions removed") {
                repairs.push("duplicate regions removed");
            }
        } else {
            regions.push(region);
        }
    }
    let mode = GameMode::parse(&s.game_mode).unwrap_or_else(|| {
        repairs.push("game mode unknown → quiz");
        GameMode::Quiz
    });
    let duration = match s.duration {
        Some(d) if d < 0 => {
            repairs.push("negative duration → none");
            None
        }
        Some(d) if i64::from(d) > MAX_DURATION_SECS => {
            repairs.push("duration over 24 h → none");
            None
        }
        d => d,
    };
    Ok(Checked {
        row: NewScore {
            id: s.id,
            user_id: s.user_id,
            score: s.score,
            total_questions: s.total_questions,
            selected_regions: regions.iter().map(|r| r.as_str().to_owned()).collect(),
            regions_key: regions_key(&regions),
            game_mode: mode.as_str().to_owned(),
            duration,
            created_at: s.created_at,
            boards: board_periods(mode, local_day(s.created_at, tz)),
        },
        repairs,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    const NOW: i64 = 1_780_000_000_000;
    const DAY: i64 = 86_400_000;

    fn original_user() -> source::User {
        source::User {
            id: "u1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            name: "Ada".into(),
            email: "  Ada@Example.COM ".into(),
            email_verified: true,
            image: Some("https://lh3.googleusercontent.com/a/x".into()),
            created_at: at(NOW - 10 * DAY),
            updated_at: at(NOW - DAY),
            tag: Some("ABCD2345".into()),
            last_seen: at(NOW - DAY),
            email_rank: 1,
        }
    }

    fn spare() -> Tag {
        Tag::parse("ZZZZ9999").unwrap()
    }

    #[test]
    fn a_clean_user_is_kept_with_its_email_normalised() {
        let ok = user(original_user(), spare()).unwrap();
        assert!(ok.repairs.is_empty());
        assert_eq!(ok.row.email, "ada@example.com");
        assert_eq!(ok.row.tag.as_deref(), Some("ABCD2345"));
        assert_eq!(ok.row.spare_tag, "ZZZZ9999");
        assert_eq!(ok.row.last_seen, Some(at(NOW - DAY)));
    }

    #[test]
    fn user_repairs_and_refusals() {
        let dup = source::User { email_rank: 2, ..original_user() };
        assert_eq!(user(dup, spare()).unwrap_err(), Dropped::Conflict("email differs only by case"));
        let bad = source::User { email: "not an email".into(), ..original_user() };
        assert_eq!(user(bad, spare()).unwrap_err(), Dropped::Skipped("invalid email".into()));
        // Invalid or lower-case tags are not kept (the original's tags are exact): the spare is given.
        for tag in [Some("abcd2345"), Some("ABCD234O"), Some(""), None] {
            let u = source::User { tag: tag.map(str::to_owned), ..original_user() };
            assert_eq!(user(u, spare()).unwrap().row.tag, None, "{tag:?}");
        }
        let long = source::User { name: format!("  {}\u{7}", "x".repeat(80)), ..original_user() };
        let ok = user(long, spare()).unwrap();
        assert_eq!((ok.row.name.chars().count(), ok.repairs), (50, vec!["name repaired"]));
        let blank = source::User { name: " \t ".into(), ..original_user() };
        assert_eq!(user(blank, spare()).unwrap().row.name, "ada");
        let js = source::User { image: Some("javascript:alert(1)".into()), ..original_user() };
        let ok = user(js, spare()).unwrap();
        assert_eq!((ok.row.image, ok.repairs), (None, vec!["image dropped"]));
    }

    #[test]
    fn only_google_accounts_and_live_sessions_come_across() {
        let a = source::Account {
            id: "a".into(),
            account_id: "sub-1".into(),
            provider_id: "google".into(),
            user_id: "u".into(),
            created_at: at(NOW),
            updated_at: at(NOW),
        };
        assert_eq!(account(a.clone()).unwrap().row.account_id, "sub-1");
        let github = source::Account { provider_id: "github".into(), ..a };
        assert_eq!(account(github).unwrap_err(), Dropped::Skipped("provider not supported: github".into()));

        let s = source::Session {
            id: "s".into(),
            expires_at: at(NOW + DAY),
            token: "tok".into(),
            created_at: at(NOW - DAY),
            updated_at: at(NOW - DAY),
            ip_address: None,
            user_agent: None,
            user_id: "u".into(),
        };
        assert_eq!(session(s.clone(), at(NOW)).unwrap().row.token_hash, sha256_hex("tok"));
        let expired = source::Session { expires_at: at(NOW), ..s };
        assert_eq!(session(expired, at(NOW)).unwrap_err(), Dropped::LeftBehind("expired"));
    }

    #[test]
    fn friendships_and_requests() {
        let pair = source::FriendPair { user_a: "a".into(), user_b: "b".into(), created_at: at(NOW), rows: 1 };
        assert_eq!(friendship(pair.clone()).unwrap().repairs, vec!["one direction only"]);
        assert!(friendship(source::FriendPair { rows: 2, ..pair.clone() }).unwrap().repairs.is_empty());
        assert_eq!(
            friendship(source::FriendPair { user_b: "a".into(), ..pair }).unwrap_err(),
            Dropped::Skipped("self".into())
        );

        let r = source::Request {
            id: "r".into(),
            sender_id: "a".into(),
            receiver_id: "b".into(),
            status: "rejected".into(),
            created_at: at(NOW - 40 * DAY),
            updated_at: at(NOW - 29 * DAY),
        };
        assert_eq!(request(r.clone(), at(NOW)).unwrap().row.status, RequestStatus::Rejected);
        let old = source::Request { updated_at: at(NOW - 31 * DAY), ..r.clone() };
        assert_eq!(request(old, at(NOW)).unwrap_err(), Dropped::LeftBehind("rejected more than 30 days ago"));
        let odd = source::Request { status: "blocked".into(), ..r.clone() };
        assert_eq!(request(odd, at(NOW)).unwrap_err(), Dropped::Skipped("unknown status".into()));
        let own = source::Request { receiver_id: "a".into(), ..r };
        assert_eq!(request(own, at(NOW)).unwrap_err(), Dropped::Skipped("self".into()));
    }

    fn original_score() -> source::Score {
        source::Score {
            id: "g".into(),
            user_id: "u".into(),
            score: 8,
            total_questions: 10,
            selected_regions: Some(vec!["Europe".into(), "Asie".into()]),
            game_mode: "quiz".into(),
            duration: Some(120),
            created_at: at(NOW),
        }
    }

    #[test]
    fn a_clean_game_keeps_its_fields_and_gets_its_boards() {
        let ok = score(original_score(), chrono_tz::Europe::Paris).unwrap();
        assert!(ok.repairs.is_empty());
        assert_eq!(ok.row.selected_regions, vec!["Europe", "Asie"]);
        assert_eq!(ok.row.regions_key, "Asie|Europe");
        assert_eq!(ok.row.boards.len(), 4);
        let training = source::Score { game_mode: "training".into(), ..original_score() };
        assert!(score(training, chrono_tz::Europe::Paris).unwrap().row.boards.is_empty());
    }

    #[test]
    fn games_are_repaired_only_where_the_fix_is_unambiguous() {
        let tz = chrono_tz::Europe::Paris;
        let cases: Vec<(source::Score, Result<Vec<&str>, &str>)> = vec![
            (source::Score { game_mode: "versus".into(), ..original_score() }, Ok(vec!["game mode unknown → quiz"])),
            (source::Score { duration: Some(-5), ..original_score() }, Ok(vec!["negative duration → none"])),
            (source::Score { duration: Some(90_000), ..original_score() }, Ok(vec!["duration over 24 h → none"])),
            (source::Score { duration: None, ..original_score() }, Ok(vec![])),
            (
                source::Score {
                    selected_regions: Some(vec!["Asie".into(), "Asie".into(), "Europe".into()]),
                    ..original_score()
                },
                Ok(vec!["duplicate regions removed"]),
            ),
            (source::Score { selected_regions: None, ..original_score() }, Err("no regions")),
            (source::Score { selected_regions: Some(vec![]), ..original_score() }, Err("no regions")),
            (
                source::Score { selected_regions: Some(vec!["Australie".into()]), ..original_score() },
                Err("unknown region"),
            ),
            (source::Score { score: 11, ..original_score() }, Err("score above total")),
            (source::Score { total_questions: 0, score: 0, ..original_score() }, Err("no questions")),
            (source::Score { total_questions: 501, ..original_score() }, Err("too many questions")),
            (source::Score { score: -1, ..original_score() }, Err("negative score")),
        ];
        for (input, expected) in cases {
            let got = score(input.clone(), tz).map(|c| c.repairs);
            match expected {
                Ok(repairs) => assert_eq!(got.unwrap(), repairs, "{input:?}"),
                Err(reason) => assert_eq!(got.unwrap_err(), Dropped::Skipped(reason.into()), "{input:?}"),
            }
        }
        let fixed = score(source::Score { game_mode: "versus".into(), duration: Some(-1), ..original_score() }, tz)
            .unwrap()
            .row;
        assert_eq!((fixed.game_mode.as_str(), fixed.duration, fixed.boards.len()), ("quiz", None, 4));
    }
}
