use crate::{fresh, on_both_backends};

on_both_backends!(up_applies_everything_once, down_to_zero_and_up_round_trips, down_reverts_newest_first, ping_answers);

async fn up_applies_everything_once(pg: bool) {
    let Some((_db, store)) = fresh(pg).await else {
        return;
    };
    let before = store.migration_status().await.unwrap();
    assert!(before.len() >= 5 && before.iter().all(|m| !m.applied));

    let applied = store.migrate_up().await.unwrap();
    assert_eq!(applied.len(), before.len());
    assert!(applied.windows(2).all(|w| w[0].version < w[1].version), "oldest first");
    assert!(store.migration_status().await.unwrap().iter().all(|m| m.applied));
    assert!(store.migrate_up().await.unwrap().is_empty(), "a second run applies nothing");

    let schema = store.schema().await.unwrap();
    for table in ["users", "sessions", "friend_requests", "game_scores", "lobby_players", "audit_log", "bug_reports"] {
        assert!(schema.iter().any(|l| l.contains(table)), "{table} exists");
    }
    assert!(!schema.iter().any(|l| l.contains("_sqlx_migrations")));
}

async fn down_to_zero_and_up_round_trips(pg: bool) {
    let Some((_db, store)) = fresh(pg).await else {
        return;
    };
    store.migrate_up().await.unwrap();
    let schema = store.schema().await.unwrap();

    let reverted = store.migrate_down(usize::MAX).await.unwrap();
    assert_eq!(reverted.len(), store.migration_status().await.unwrap().len());
    assert!(store.schema().await.unwrap().is_empty(), "down to zero leaves no table");

    store.migrate_up().await.unwrap();
    assert_eq!(store.schema().await.unwrap(), schema, "schema identical after down and up");
}

async fn down_reverts_newest_first(pg: bool) {
    let Some((_db, store)) = fresh(pg).await else {
        return;
    };
    store.migrate_up().await.unwrap();
    let all = store.migration_status().await.unwrap();
    let newest = all.last().unwrap().version;

    let reverted = store.migrate_down(3).await.unwrap();
    assert_eq!(reverted.len(), 3);
    assert_eq!(reverted[0].version, newest);
    assert!(reverted[0].version > reverted[1].version);
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.iter().filter(|m| !m.applied).count(), 3);
    // 0009 reverted: no fencing token.
    let schema = store.schema().await.unwrap();
    assert!(!schema.iter().any(|l| l.contains("fence")));
    // 0008 reverted: its index gone, the one it replaced back.
    let schema = store.schema().await.unwrap();
    assert!(!schema.iter().any(|l| l.contains("game_results_user_game_idx")));
    assert!(schema.iter().any(|l| l.contains("game_results_user_idx")));
    // 0007 reverted: score writers update the counters again, no delta table.
    assert!(!schema.iter().any(|l| l.contains("score_board_deltas")));

    assert_eq!(store.migrate_up().await.unwrap().len(), 3);
}

async fn ping_answers(pg: bool) {
    let Some((_db, store)) = fresh(pg).await else {
        return;
    };
    store.ping().await.unwrap();
    assert!(store.pool_stats().size >= 1);
    store.close().await;
    assert!(store.ping().await.unwrap_err().is_unavailable(), "a closed store reports itself unavailable");
}
