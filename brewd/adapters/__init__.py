"""Adapters: thin edges to PostgreSQL, Redis, the Claude API and systemd."""
