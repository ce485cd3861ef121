"""Fakes of external services; only the Claude API may be faked (HELPERS.md)."""
