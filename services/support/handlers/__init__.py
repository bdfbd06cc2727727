"""Use cases of the support service, as plain functions over a unit of work."""
