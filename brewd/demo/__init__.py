"""`brewd demo` and the café world generator it shares with the benchmarks."""
