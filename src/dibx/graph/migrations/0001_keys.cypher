// Keys of every node type: uniqueness constraints also give the lookup indexes.
CREATE CONSTRAINT nation_code IF NOT EXISTS FOR (n:Nation) REQUIRE n.code IS UNIQUE;
CREATE CONSTRAINT agreement_code IF NOT EXISTS FOR (a:Agreement) REQUIRE a.code IS UNIQUE;
CREATE CONSTRAINT supplier_id IF NOT EXISTS FOR (s:Supplier) REQUIRE s.id IS UNIQUE;
CREATE CONSTRAINT capability_id IF NOT EXISTS FOR (c:Capability) REQUIRE c.id IS UNIQUE;
CREATE CONSTRAINT migration_version IF NOT EXISTS FOR (m:Migration) REQUIRE m.version IS UNIQUE;
