"""proactiveMessages: the café host's occasional message."""
