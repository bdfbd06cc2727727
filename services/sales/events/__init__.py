"""Events the sales service publishes and consumes."""
