"""Who may trigger, pause and resume: root, the daemon's user, the admin group."""

from __future__ import annotations

from brewd.control.peer import Peer, is_allowed

ADMIN = 990


def allowed(
    uid: int, gid: int = 1000, groups: set[int] | None = None, admin: int | None = ADMIN
) -> bool:
    peer = Peer(pid=1, uid=uid, gid=gid)
    return is_allowed(peer, daemon_uid=123, admin_gid=admin, groups=groups or set())


def test_root_and_the_daemons_own_user_are_allowed() -> None:
    assert allowed(0)
    assert allowed(123)


def test_admin_group_by_primary_or_supplementary_gid() -> None:
    assert allowed(1000, gid=ADMIN)
    assert allowed(1000, groups={27, ADMIN})


def test_anyone_else_is_refused() -> None:
    assert not allowed(1000, groups={27, 100})
    assert not allowed(1000, gid=ADMIN, admin=None)  # no admin group on this system
