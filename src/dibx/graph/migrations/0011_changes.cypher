// The change feed (docs/changes.md): events are history states labelled :Change, numbered by
// `seq` from the one :ChangeSequence counter; compaction finds old events by `committedAt`.
CREATE CONSTRAINT change_seq IF NOT EXISTS FOR (c:Change) REQUIRE c.seq IS UNIQUE;
CREATE INDEX change_committed IF NOT EXISTS FOR (c:Change) ON (c.committedAt);
CREATE CONSTRAINT change_sequence_id IF NOT EXISTS FOR (c:ChangeSequence) REQUIRE c.id IS UNIQUE;
