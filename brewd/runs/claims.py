"""A run's claim: the job's advisory lock, held on a connection of its own for the whole run,
apart from the connection its attempts work on."""

from __future__ import annotations

from brewd.adapters.pg import Connection, Database
from brewd.core.errors import DatabaseError
from brewd.runs.ledger import Ledger


class Claim:
    """The claim of run `run_id` of `job`: `conn` holds the job's session advisory lock.

    Why a connection of its own: an attempt's connection may be lost or terminated (that is
    what retries are for), and a lock held there would die with it. Between two attempts the
    abandoned-run sweep of any node would then see no holder and close the live run, and
    another node could claim the job. The claim connection does no work (it only takes the
    lock, inserts the row and records the outcome), so only a real loss of the node or of the
    database ends it; then the lock is free and the run is abandoned, as it should be. The
    fence is unchanged: every batch checks, on the work connection, that the run row is still
    'running' on this node, so a node whose claim was lost commits nothing more.
    """

    def __init__(self, db: Database, ledger: Ledger, conn: Connection, job: str) -> None:
        self.db, self.ledger, self.conn, self.job = db, ledger, conn, job
        self.run_id = 0
        self.backend_pid = int(conn.info.backend_pid)

    def holds(self) -> bool:
        """Checked before each retry: the lock's session is alive and the run row still ours.
        A claim connection lost with the database is taken again when the row is still ours."""
        try:
            if not self.conn.broken:
                return self.ledger.still_ours(self.conn, self.run_id)
        except DatabaseError:
            pass  # the session died under us: try a new one below
        return self._retake()

    def _retake(self) -> bool:
        try:
            conn = self.db.getconn(timeout=5)
        except DatabaseError:
            return False
        try:
            ok = self.ledger.try_lock(conn, self.job) and self.ledger.still_ours(conn, self.run_id)
        except DatabaseError:
            ok = False
        if not ok:
            release(self.db, self.ledger, conn, self.job)
            return False
        self.db.putconn(self.conn)  # the pool discards a broken connection
        self.conn, self.backend_pid = conn, int(conn.info.backend_pid)
        return True

    def release(self) -> None:
        release(self.db, self.ledger, self.conn, self.job)


def release(db: Database, ledger: Ledger, conn: Connection, job: str) -> None:
    """Unlock the job on `conn` (if its session still lives) and give the connection back."""
    try:
        if not conn.broken:
            ledger.unlock(conn, job)
    except DatabaseError:
        pass  # a broken connection has lost its locks with its session
    finally:
        db.putconn(conn)
