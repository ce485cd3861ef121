"""The job registry: every job brewd runs, by its API name (SPEC §4)."""

from __future__ import annotations

from collections.abc import Mapping

from brewd.jobs.base import Job, JobContext, JobResult

# Filled as the job modules land; the names must match config.JOB_DEFAULTS.
ALL_JOBS: Mapping[str, Job] = {}

__all__ = ["ALL_JOBS", "Job", "JobContext", "JobResult"]
