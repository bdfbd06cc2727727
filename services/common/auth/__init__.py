"""Who is calling: bearer-token authentication, the roles' permissions and the
caller (`Principal`) each RPC runs on behalf of."""
