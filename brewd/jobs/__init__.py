"""The job registry: every job brewd runs, by its API name (SPEC §4)."""

from __future__ import annotations

from collections.abc import Mapping

from brewd.jobs import (
    aggregate_analytics,
    calculate_badges,
    expire_badges,
    expire_pokes,
    expire_users,
)
from brewd.jobs.base import Job, JobContext, JobResult
from brewd.jobs.proactive import messages as proactive_messages

# Filled as the job modules land; the names must match config.JOB_DEFAULTS.
ALL_JOBS: Mapping[str, Job] = {
    m.NAME: m
    for m in (
        expire_users,
        expire_badges,
        calculate_badges,
        expire_pokes,
        aggregate_analytics,
        proactive_messages,
    )
}

__all__ = ["ALL_JOBS", "Job", "JobContext", "JobResult"]
