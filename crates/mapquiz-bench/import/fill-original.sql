-- Fills an empty database holding the original server's schema with a population of the size the import is
-- measured at: :users players (each with a Google account, half with a live session), :pairs friendships
-- written both ways (2 × :pairs friend rows), :requests friend requests, and :scores solo games spread over
-- a year. Dirty in the proportions original-schema.md describes (null tags, unknown modes, null regions,
-- negative durations, impossible scores). Run with psql -v users=… -v pairs=… -v requests=… -v scores=….
\set ON_ERROR_STOP on
BEGIN;
-- 32-character ids over [A-Za-z0-9], as Better Auth drew them: md5 gives 32 hex characters.
INSERT INTO "user" (id, name, email, "emailVerified", image, "createdAt", "updatedAt", tag, "isOnline", "lastSeen")
SELECT md5('user' || i), 'Joueur ' || i, 'Player.' || i || '@Example.com', true,
       CASE WHEN i % 3 = 0 THEN 'https://lh3.googleusercontent.com/a/' || md5('img' || i) END,
       ts, ts + interval '1 day',
       -- every tenth tag was never assigned
       -- i times an odd constant modulo 2^32 is one-to-one: distinct 8-hex-digit tags, mapped into the alphabet
       CASE WHEN i % 10 <> 0 THEN translate(upper(lpad(to_hex((i::bigint * 2654435761) % 4294967296), 8, '0')),
                                            '0123456789ABCDEF', '23456789ABCDEFGH') END,
       i % 7 = 0, ts + interval '2 days'
  FROM generate_series(1, :users) AS i,
       LATERAL (SELECT timestamp '2025-01-01' + (i % 300) * interval '1 day' AS ts) AS t;
-- A hundred players who signed up twice, their emails differing only by case.
INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt", "lastSeen")
SELECT md5('twin' || i), 'Jumeau ' || i, 'PLAYER.' || i || '@EXAMPLE.COM', true, timestamp '2025-12-01',
       timestamp '2025-12-01', timestamp '2025-12-01'
  FROM generate_series(1, 100) AS i;

INSERT INTO account (id, "accountId", "providerId", "userId", "accessToken", "idToken", scope, "createdAt", "updatedAt")
SELECT md5('account' || i), (100000000000000000000 + i)::text, 'google', md5('user' || i), 'ya29.x', 'eyJ.x',
       'openid email profile', timestamp '2025-01-01', timestamp '2025-01-01'
  FROM generate_series(1, :users) AS i;

INSERT INTO session (id, "expiresAt", token, "createdAt", "updatedAt", "ipAddress", "userAgent", "userId")
SELECT md5('session' || i),
       CASE WHEN i % 4 = 0 THEN now() AT TIME ZONE 'UTC' - interval '1 day'
            ELSE now() AT TIME ZONE 'UTC' + interval '6 days' END,
       md5('token' || i), timestamp '2025-06-01', timestamp '2025-06-01', '203.0.113.' || (i % 250),
       'Mozilla/5.0', md5('user' || i)
  FROM generate_series(1, :users / 2) AS i;

-- Pairs (a, b) with b a few places after a: both directions, a few hundred left one-sided.
INSERT INTO friend (id, "userId", "friendId", "createdAt")
SELECT gen_random_uuid()::text, md5('user' || a), md5('user' || b), timestamp '2025-03-01'
  FROM (SELECT 1 + (i % :users) AS a, 1 + ((i + 1 + i / :users) % :users) AS b
          FROM generate_series(0, :pairs - 1) AS i) AS p
 WHERE a <> b
ON CONFLICT DO NOTHING;
INSERT INTO friend (id, "userId", "friendId", "createdAt")
SELECT gen_random_uuid()::text, "friendId", "userId", "createdAt" FROM friend WHERE random() > 0.002
ON CONFLICT DO NOTHING;

INSERT INTO friend_request (id, "senderId", "receiverId", status, "createdAt", "updatedAt")
SELECT gen_random_uuid()::text, md5('user' || s), md5('user' || r),
       (ARRAY['pending', 'accepted', 'rejected'])[1 + i % 3], timestamp '2025-04-01',
       now() AT TIME ZONE 'UTC' - (i % 60) * interval '1 day'
  FROM (SELECT i, 1 + (i % :users) AS s, 1 + ((i + 7 + i / :users) % :users) AS r
          FROM generate_series(0, :requests - 1) AS i) AS q
 WHERE s <> r
ON CONFLICT DO NOTHING;

INSERT INTO game_score (id, "userId", score, "totalQuestions", "selectedRegions", "gameMode", duration, "createdAt")
SELECT gen_random_uuid()::text, md5('user' || (1 + i % :users)), sc, total,
       CASE WHEN i % 200 = 0 THEN NULL
            WHEN i % 7 = 6 THEN ARRAY['Europe', 'Asie']
            ELSE ARRAY[(ARRAY['Europe', 'Afrique', 'Asie', 'Amérique du Nord', 'Amérique du Sud', 'Océanie'])[1 + i % 7]]
       END,
       CASE WHEN i % 500 = 3 THEN 'timed' WHEN i % 10 = 0 THEN 'training' ELSE 'quiz' END,
       CASE WHEN i % 300 = 0 THEN -1 WHEN i % 50 = 0 THEN NULL ELSE 20 + i % 400 END,
       timestamp '2025-01-01' + (i % 525600) * interval '1 minute'
  FROM generate_series(1, :scores) AS i,
       LATERAL (SELECT 20 + i % 30 AS total) AS t,
       LATERAL (SELECT CASE WHEN i % 1000 = 0 THEN total + 1 ELSE (i * 7) % (total + 1) END AS sc) AS s;
COMMIT;
ANALYZE;
