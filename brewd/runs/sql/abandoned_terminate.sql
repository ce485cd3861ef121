-- A stalled run's claim backend: ending it releases the lock and voids the run's fence.
SELECT pg_terminate_backend(%s)
