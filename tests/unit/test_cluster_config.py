"""redis.cluster: BREWD_REDIS_CLUSTER turns it on; a URL a cluster cannot use is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from brewd.adapters.cache import LazyCluster, make_client
from brewd.cli.settings import load
from brewd.core.errors import ConfigError


def test_off_by_default_and_on_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "brewd.toml").write_text("")
    path = str(tmp_path / "brewd.toml")
    assert load(path, {}).redis.cluster is False
    env = {"BREWD_REDIS_CLUSTER": "true", "REDIS_URL": "redis://:pw@10.0.0.7:7001"}
    config = load(path, env)
    assert config.redis.cluster is True
    # Nothing is contacted until the first command: a cluster down at start is no start failure,
    # and closing a client that never connected contacts nothing either (10.0.0.7 is not there).
    client = make_client(config.redis)
    assert isinstance(client, LazyCluster)
    client.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://:secretpw@10.0.0.7:7001/3", "only database 0"),
        ("unix:///run/redis.sock", "redis://host:port"),
    ],
)
def test_a_url_a_cluster_cannot_use_is_refused_without_showing_it(
    tmp_path: Path, url: str, problem: str
) -> None:
    (tmp_path / "brewd.toml").write_text("[redis]\ncluster = true\n")
    with pytest.raises(ConfigError, match=problem) as info:
        load(str(tmp_path / "brewd.toml"), {"REDIS_URL": url})
    assert "secretpw" not in str(info.value)
    assert "redis.url" in str(info.value)


def test_not_a_boolean_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "brewd.toml").write_text("")
    with pytest.raises(ConfigError, match=r"redis\.cluster"):
        load(str(tmp_path / "brewd.toml"), {"BREWD_REDIS_CLUSTER": "maybe"})
