"""Use cases of the sales service, as plain functions over a unit of work."""
