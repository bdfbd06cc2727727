"""gRPC servicers of the projects service."""
