"""The `redis_cluster` fixture: one real 3-master Redis Cluster for the whole session.

Tests that use it get it flushed (every master) before they start; it is stopped at the end
of the session. Skipped, with the reason, only where redis-server cannot run a cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_cluster import ClusterUnavailable, LocalCluster, local_cluster


@pytest.fixture(scope="session")
def redis_cluster_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    try:
        with local_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
            yield cluster
    except ClusterUnavailable as exc:
        pytest.skip(f"no Redis Cluster here: {exc}")


@pytest.fixture
def redis_cluster(redis_cluster_session: LocalCluster) -> Iterator[LocalCluster]:
    """The session's cluster, empty."""
    redis_cluster_session.flush()
    yield redis_cluster_session
    redis_cluster_session.flush()
