//! Ranking a finished game (protocol §3.6): shared ranks, then completion time, then join order.

use crate::UserId;
use serde::Serialize;

/// `Ranking` (§0.6): one player's place in a finished game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ranking {
    pub id: UserId,
    pub name: String,
    pub score: u32,
    /// 1 + the number of players with a strictly higher score: 7, 7, 5 rank 1, 1, 3.
    pub rank: u32,
    /// Whole seconds from the start to the last answer, or null for a player who did not finish.
    pub completion_time: Option<u32>,
}

/// One player's outcome, before ranking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub id: UserId,
    pub name: String,
    pub score: u32,
    pub completion_secs: Option<u32>,
}

/// Ranks `standings`, given in join order: entries sorted by rank, then completion time ascending with
/// unfinished players last, then join order.
pub fn rank(standings: Vec<Standing>) -> Vec<Ranking> {
    let scores: Vec<u32> = standings.iter().map(|s| s.score).collect();
    let mut rankings: Vec<Ranking> = standings
        .into_iter()
        .map(|s| {
            let higher = scores.iter().filter(|&&other| other > s.score).count();
            Ranking {
                id: s.id,
                name: s.name,
                score: s.score,
                rank: u32::try_from(higher).unwrap_or(u32::MAX).saturating_add(1),
                completion_time: s.completion_secs,
            }
        })
        .collect();
    // A stable sort keeps join order among equals.
    rankings.sort_by_key(|r| (r.rank, r.completion_time.is_none(), r.completion_time));
    rankings
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn standing(id: &str, score: u32, completion_secs: Option<u32>) -> Standing {
        Standing { id: UserId::parse(id).unwrap(), name: id.to_uppercase(), score, completion_secs }
    }

    #[test]
    fn ties_share_a_rank_and_the_next_rank_skips() {
        let r = rank(vec![standing("c", 5, None), standing("a", 7, Some(90)), standing("b", 7, Some(80))]);
        let summary: Vec<(&str, u32)> = r.iter().map(|r| (r.id.as_str(), r.rank)).collect();
        assert_eq!(summary, [("b", 1), ("a", 1), ("c", 3)], "faster finisher first among ties");
    }

    #[test]
    fn unfinished_players_come_last_among_ties_then_join_order() {
        let r = rank(vec![standing("x", 3, None), standing("y", 3, Some(50)), standing("z", 3, None)]);
        let ids: Vec<&str> = r.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["y", "x", "z"]);
        assert!(r.iter().all(|r| r.rank == 1));
    }

    #[test]
    fn the_wire_shape_has_camel_case_keys_and_null_times() {
        let r = rank(vec![standing("a", 2, None)]);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"[{"id":"a","name":"A","score":2,"rank":1,"completionTime":null}]"#
        );
    }

    proptest! {
        #[test]
        fn rank_is_one_plus_strictly_higher_scores(
            entries in prop::collection::vec((0u32..10, prop::option::of(0u32..100)), 0..10)
        ) {
            let standings: Vec<Standing> = entries
                .iter()
                .enumerate()
                .map(|(i, &(score, time))| standing(&format!("p{i}"), score, time))
                .collect();
            let ranked = rank(standings.clone());
            prop_assert_eq!(ranked.len(), standings.len());
            for r in &ranked {
                let higher = standings.iter().filter(|s| s.score > r.score).count() as u32;
                prop_assert_eq!(r.rank, higher + 1);
            }
            prop_assert!(ranked.windows(2).all(|w| w[0].rank <= w[1].rank));
        }
    }
}
