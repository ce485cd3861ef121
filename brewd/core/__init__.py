"""The pure core: configuration, clock, errors, cron slots; imports no I/O."""
