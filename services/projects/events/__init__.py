"""Events the projects service publishes and consumes."""
