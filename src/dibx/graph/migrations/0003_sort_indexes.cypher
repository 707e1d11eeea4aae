// Range indexes for the sorts and filters the API offers.
CREATE INDEX supplier_name IF NOT EXISTS FOR (s:Supplier) ON (s.name);
CREATE INDEX capability_area IF NOT EXISTS FOR (c:Capability) ON (c.area);
