CREATE TABLE friend_requests (
    id          TEXT    PRIMARY KEY NOT NULL,
    sender_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    receiver_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (sender_id <> receiver_id)
);
-- One request per ordered pair (a new one replaces an old non-pending one), and at most one pending request
-- per unordered pair, so two users asking each other at once cannot both end up pending.
CREATE UNIQUE INDEX friend_requests_pair_key ON friend_requests (sender_id, receiver_id);
CREATE UNIQUE INDEX friend_requests_pending_pair_key
    ON friend_requests (min(sender_id, receiver_id), max(sender_id, receiver_id)) WHERE status = 'pending';
CREATE INDEX friend_requests_receiver_status_idx ON friend_requests (receiver_id, status, created_at);

-- Both directions are stored, so "friends of X" is one index range.
CREATE TABLE friendships (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, friend_id),
    CHECK (user_id <> friend_id)
);
CREATE INDEX friendships_friend_idx ON friendships (friend_id);
