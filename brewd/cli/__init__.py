"""Entry points: the `brewd` and `brewctl` commands, settings loading, plan, the socket client."""
