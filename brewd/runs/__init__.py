"""One run of a job: claims (exactly once), retries, execution, records and history."""
