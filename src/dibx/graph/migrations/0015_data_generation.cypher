// Cached reads are kept per data generation (dibx.graph.generation), read from the change
// feed's counter: give an existing counter its epoch, so that a database from before it is
// cached too. A database without the counter keeps none: the first write creates it.
MATCH (c:ChangeSequence {id: 1}) SET c.epoch = coalesce(c.epoch, randomUUID());
