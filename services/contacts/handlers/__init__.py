"""Use cases of the contacts service: one module per area, plain functions over a unit of work."""
