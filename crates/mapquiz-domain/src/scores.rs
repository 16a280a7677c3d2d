//! Solo games (protocol §5): the checks a saved game must pass, and the leaderboard calendar (which day,
//! week and month a game counts in, in the configured time zone).

use crate::{Region, Timestamp};
use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use thiserror::Error;

/// Most questions a game may have.
pub const MAX_QUESTIONS: i64 = 500;
/// Longest game, seconds.
pub const MAX_DURATION_SECS: i64 = 86_400;

/// How a solo game was played; only quizzes enter leaderboards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GameMode {
    Quiz,
    Training,
}

impl GameMode {
    /// The mode with exactly this wire name.
    pub fn parse(s: &str) -> Option<GameMode> {
        [GameMode::Quiz, GameMode::Training].into_iter().find(|m| m.as_str() == s)
    }

    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GameMode::Quiz => "quiz",
            GameMode::Training => "training",
        }
    }
}

impl serde::Serialize for GameMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The wire name only, as [`GameMode::parse`] reads it.
impl<'de> serde::Deserialize<'de> for GameMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        GameMode::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown game mode {name:?}")))
    }
}

/// Why a game was refused; the message is the protocol's (each contains "invalide").
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum ScoreError {
    #[error("Nombre de questions invalide")]
    TotalQuestions,
    #[error("Score invalide")]
    Score,
    #[error("Régions sélectionnées invalides")]
    Regions,
    #[error("Mode de jeu invalide")]
    GameMode,
    #[error("Durée invalide")]
    Duration,
}

/// A solo game as the client reports it, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreInput {
    pub score: i32,
    pub total_questions: i32,
    /// Distinct, in the order sent.
    pub regions: Vec<Region>,
    pub mode: GameMode,
    pub duration: Option<i32>,
}

/// The JSON integer at `key` within `range`; floats and strings are not integers.
fn integer(body: &Map<String, Value>, key: &str, range: std::ops::RangeInclusive<i64>) -> Option<i32> {
    body.get(key).and_then(Value::as_i64).filter(|n| range.contains(n)).and_then(|n| i32::try_from(n).ok())
}

impl ScoreInput {
    /// Checks the body in the protocol's order; the first failure wins.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ScoreError> {
        let total_questions = integer(body, "totalQuestions", 1..=MAX_QUESTIONS).ok_or(ScoreError::TotalQuestions)?;
        let score = integer(body, "score", 0..=i64::from(total_questions)).ok_or(ScoreError::Score)?;
        let regions = parse_regions(body.get("selectedRegions")).ok_or(ScoreError::Regions)?;
        let mode = match body.get("gameMode") {
            None | Some(Value::Null) => GameMode::Quiz,
            Some(Value::String(s)) if s == "quiz" => GameMode::Quiz,
            Some(Value::String(s)) if s == "training" => GameMode::Training,
            Some(_) => return Err(ScoreError::GameMode),
        };
        let duration = match body.get("duration") {
            None | Some(Value::Null) => None,
            Some(_) => Some(integer(body, "duration", 0..=MAX_DURATION_SECS).ok_or(ScoreError::Duration)?),
        };
        Ok(ScoreInput { score, total_questions, regions, mode, duration })
    }
}

/// A non-empty array of distinct known regions.
fn parse_regions(value: Option<&Value>) -> Option<Vec<Region>> {
    let items = value?.as_array()?;
    let mut regions = Vec::with_capacity(items.len());
    for item in items {
        let region = Region::parse(item.as_str()?)?;
        if regions.contains(&region) {
            return None;
        }
        regions.push(region);
    }
    (!regions.is_empty()).then_some(regions)
}

/// The leaderboard key of a set of regions: distinct, sorted, joined by `|`.
pub fn regions_key(regions: &[Region]) -> String {
    let mut sorted = regions.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("|")
}

/// A leaderboard period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// The local calendar day.
    Day,
    /// The local week, Monday to Sunday.
    Week,
    /// The local calendar month.
    Month,
    /// All time.
    All,
}

impl Period {
    /// Every period, as a game is entered in each.
    pub const ALL: [Period; 4] = [Period::Day, Period::Week, Period::Month, Period::All];

    /// `day`, `week`, `month` or `all`.
    pub fn parse(s: &str) -> Option<Period> {
        Period::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::All => "all",
        }
    }

    /// The first local day of the period containing `day`; `None` for all time.
    pub fn start(self, day: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Day => Some(day),
            Period::Week => day.checked_sub_days(chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))),
            Period::Month => day.with_day(1),
            Period::All => None,
        }
    }

    /// The stored form of [`Period::start`]: `YYYY-MM-DD`, or `""` for all time.
    pub fn start_key(self, day: NaiveDate) -> String {
        self.start(day).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
    }
}

/// The local calendar day of an instant.
pub fn local_day(at: Timestamp, tz: Tz) -> NaiveDate {
    at.datetime().with_timezone(&tz).date_naive()
}

/// The history label: `DD/MM` of the local day.
pub fn day_month_label(at: Timestamp, tz: Tz) -> String {
    local_day(at, tz).format("%d/%m").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ScoreInput, ScoreError> {
        ScoreInput::parse(v.as_object().unwrap())
    }

    #[test]
    fn a_valid_game_with_defaults() {
        let g = parse(json!({"score": 6, "totalQuestions": 7, "selectedRegions": ["Europe", "Asie"]})).unwrap();
        assert_eq!(g.mode, GameMode::Quiz);
        assert_eq!(g.duration, None);
        assert_eq!(g.regions, vec![Region::Europe, Region::Asie], "order kept");
        assert_eq!(regions_key(&g.regions), "Asie|Europe");
    }

    #[test]
    fn rules_apply_in_the_protocol_order() {
        let base =
            json!({"score": 1, "totalQuestions": 2, "selectedRegions": ["Europe"], "gameMode": "quiz", "duration": 5});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            parse(b)
        };
        assert_eq!(with("totalQuestions", json!(0)), Err(ScoreError::TotalQuestions));
        assert_eq!(with("totalQuestions", json!(501)), Err(ScoreError::TotalQuestions));
        assert_eq!(with("totalQuestions", json!(7.5)), Err(ScoreError::TotalQuestions));
        assert_eq!(with("totalQuestions", json!("2")), Err(ScoreError::TotalQuestions));
        assert_eq!(with("score", json!(3)), Err(ScoreError::Score));
        assert_eq!(with("score", json!(-1)), Err(ScoreError::Score));
        assert_eq!(with("selectedRegions", json!([])), Err(ScoreError::Regions));
        assert_eq!(with("selectedRegions", json!(["Australie"])), Err(ScoreError::Regions));
        assert_eq!(with("selectedRegions", json!(["Europe", "Europe"])), Err(ScoreError::Regions));
        assert_eq!(with("selectedRegions", json!(["Oce\u{301}anie"])), Err(ScoreError::Regions));
        assert_eq!(with("gameMode", json!("x")), Err(ScoreError::GameMode));
        assert_eq!(with("duration", json!(86_401)), Err(ScoreError::Duration));
        assert_eq!(with("duration", json!(1.5)), Err(ScoreError::Duration));
        assert_eq!(with("duration", Value::Null).unwrap().duration, None);
        let mut both = base.clone();
        both["totalQuestions"] = json!(0);
        both["score"] = json!(9);
        assert_eq!(parse(both), Err(ScoreError::TotalQuestions), "the first rule wins");
        assert!(ScoreError::Regions.to_string().contains("invalide"));
    }

    #[test]
    fn periods_follow_the_local_calendar() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // 2025-12-31T23:30Z is already 1 January in Paris.
        let at = Timestamp::from_millis(1_767_223_800_000).unwrap();
        assert_eq!(day_month_label(at, paris), "01/01");
        let day = local_day(at, paris);
        assert_eq!(Period::Day.start_key(day), "2026-01-01");
        assert_eq!(Period::Week.start_key(day), "2025-12-29", "Thursday 1 January 2026: week of Monday 29 December");
        assert_eq!(Period::Month.start_key(day), "2026-01-01");
        assert_eq!(Period::All.start_key(day), "");
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert_eq!(Period::Week.start_key(sunday), "2026-11-23");
        assert_eq!(Period::Week.start_key(sunday.succ_opt().unwrap()), "2026-11-30");
        assert_eq!(Period::parse("week"), Some(Period::Week));
        assert_eq!(Period::parse("year"), None);
    }
}
