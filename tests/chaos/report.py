"""The run's result: the seed, the faults injected and the invariants, as plain tables."""

from __future__ import annotations

from tests.chaos.faults import Fault
from tests.chaos.verdict import SHOWN, Verdict


def table(seed: int, minutes: float, faults: list[Fault], verdicts: list[Verdict]) -> str:
    lines = [f"\nchaos run: seed {seed}, {minutes:g} minutes, {len(faults)} faults", ""]
    lines.append(f"{'at (UTC)':<10} {'fault':<22} {'target':<9} {'detail':<10} lasted")
    for fault in faults:
        lasted = (fault.healed - fault.started).total_seconds() if fault.healed else 0
        lines.append(
            f"{fault.started:%H:%M:%S}   {fault.kind:<22} {fault.target:<9} {fault.detail:<10}"
            f" {lasted:.0f}s"
        )
    lines += ["", f"{'invariant':<66} {'checked':>7}  result"]
    for verdict in verdicts:
        result = "held" if verdict.held else f"VIOLATED ({len(verdict.violations)})"
        lines.append(f"{verdict.name:<66} {verdict.checked:>7}  {result}")
        lines += [f"    - {v}" for v in verdict.violations[:SHOWN]]
    held = sum(v.held for v in verdicts)
    lines.append(f"\n{held} of {len(verdicts)} invariants held; seed {seed}")
    return "\n".join(lines)
