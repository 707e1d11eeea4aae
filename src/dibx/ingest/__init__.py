"""Ingest: reference (CSV) and demo (YAML) data checked into a Dataset, the synthetic graph,
and seeding. Everything is derived from the model of record (`dibx.graph.model`); nothing is
written until every row is checked (`dibx.graph.writes` writes)."""
