"""Domain model of the sales service: plain Python, no I/O."""
