"""Tables, repositories and migrations of the projects service."""
