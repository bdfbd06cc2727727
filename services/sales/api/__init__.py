"""gRPC servicers of the sales service."""
