// Cached reads are kept per data generation (dibx.graph.generation), read from the change
// feed's counter: give the counter its epoch, so that a database from before it is cached too.
MERGE (c:ChangeSequence {id: 1}) SET c.epoch = coalesce(c.epoch, randomUUID());
