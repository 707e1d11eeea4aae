// Stewarded writes keep history in state nodes (docs/history.md): a record's states hang off it
// by STATE_OF; an edge's states are found by the edge's `uid`, copied to each of them.
CREATE INDEX supplier_state_valid IF NOT EXISTS FOR (s:SupplierState) ON (s.validFrom);
CREATE INDEX capability_state_valid IF NOT EXISTS FOR (s:CapabilityState) ON (s.validFrom);
CREATE INDEX provides_state_uid IF NOT EXISTS FOR (s:ProvidesState) ON (s.uid);
CREATE INDEX sources_from_state_uid IF NOT EXISTS FOR (s:SourcesFromState) ON (s.uid);
CREATE INDEX subsidiary_of_state_uid IF NOT EXISTS FOR (s:SubsidiaryOfState) ON (s.uid);
CREATE INDEX requires_state_uid IF NOT EXISTS FOR (s:RequiresState) ON (s.uid);
CREATE INDEX retired_supplier_id IF NOT EXISTS FOR (s:RetiredSupplier) ON (s.id);
CREATE INDEX retired_capability_id IF NOT EXISTS FOR (c:RetiredCapability) ON (c.id);
