"""What a job's run did, as the job reports it (pure): the runner records it as the run's
outcome (brewd/runs/records.py), so it lives below both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class JobResult:
    """What a run did: the count the spec names as its result, and a sentence for people."""

    affected_records: int
    message: str
    # proactiveMessages: messages posted by text source (claude, template), for the metrics
    by_source: Mapping[str, int] = field(default_factory=dict)
    fallbacks: Mapping[str, int] = field(default_factory=dict)  # why templates stood in
