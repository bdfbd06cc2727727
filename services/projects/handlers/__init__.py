"""Use cases of the projects service, as plain async functions over a unit of work."""
