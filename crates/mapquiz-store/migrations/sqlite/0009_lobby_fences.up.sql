-- The fencing token of the node that owns the lobby (issue 13): a write carrying an older token than the
-- one stored is refused, so an owner that lost its lease never writes after its successor. 0: never owned
-- through a lease (one node).
ALTER TABLE lobbies ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
