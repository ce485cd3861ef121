"""The exit statuses of `brewd` (sysexits.h), defined once: the errors, the entry point, the
daemon and the man page's EXIT STATUS section all read them from here."""

from __future__ import annotations

from collections.abc import Mapping

EX_OK = 0
EX_USAGE = 64  # a bad command line
EX_DATAERR = 65  # the database answered, but its schema or data cannot be accepted
EX_NOUSER = 67  # the database or the role does not exist
EX_NOHOST = 68  # the database host name does not resolve
EX_UNAVAILABLE = 69  # the database does not answer, or the control socket is taken
EX_SOFTWARE = 70  # an internal error (a bug)
EX_CANTCREAT = 73  # the control socket cannot be created
EX_NOPERM = 77  # authentication failed
EX_CONFIG = 78  # systemd's RestartPreventExitStatus=78: a bad config must not restart-loop

# Each status in a few words, for `brewd --help` (the man page says more).
MEANING: Mapping[int, str] = {
    EX_OK: "ok",
    EX_USAGE: "usage",
    EX_DATAERR: "data conflict or a database that cannot be adopted",
    EX_NOUSER: "missing database or role",
    EX_NOHOST: "database host unresolvable",
    EX_UNAVAILABLE: "unavailable (database down, socket taken)",
    EX_SOFTWARE: "internal error",
    EX_CANTCREAT: "cannot create the control socket",
    EX_NOPERM: "authentication failed",
    EX_CONFIG: "bad configuration",
}
