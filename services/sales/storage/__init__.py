"""Tables, repositories and migrations of the sales service."""
