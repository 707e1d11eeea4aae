// The change feed reads runs of consecutive event numbers above the counter's `compacted`
// floor (dibx.graph.changes); set that floor where events were compacted before it existed.
MATCH (s) WHERE s.compactedSeq IS NOT NULL
WITH max(s.compactedSeq) AS high WHERE high IS NOT NULL
MATCH (c:ChangeSequence {id: 1})
SET c.compacted = CASE WHEN coalesce(c.compacted, 0) > high THEN c.compacted ELSE high END;
