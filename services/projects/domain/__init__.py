"""Domain model of the projects service: plain Python, no I/O."""
