// Marking challenges (32 CFR 2002.50) are looked up by id and listed by state.
CREATE CONSTRAINT challenge_id IF NOT EXISTS FOR (c:MarkingChallenge) REQUIRE c.id IS UNIQUE;
CREATE INDEX challenge_state IF NOT EXISTS FOR (c:MarkingChallenge) ON (c.state);
