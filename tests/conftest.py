"""Test plugins: real PostgreSQL and Redis for every test that asks (no mocks of either)."""

pytest_plugins = (
    "tests.fix_pg",
    "tests.fix_legacy",
    "tests.fix_redis",
    "tests.fix_redis_cluster",
    "tests.fix_loguru",
)
