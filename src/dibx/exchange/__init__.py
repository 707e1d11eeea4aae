"""Bulk exchange: the file formats of import and export, derived from the model of record."""
