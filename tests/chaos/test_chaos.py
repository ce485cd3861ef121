"""The chaos run in CI: three minutes of faults with a fixed seed (the harness is
tests/chaos/run.py; docs/chaos.md says what it injects and checks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.chaos import run
from tests.chaos.servers import PG_BIN

SEED = 1919


@pytest.mark.slow
@pytest.mark.chaos
@pytest.mark.timeout(1200)
def test_three_minutes_of_faults_leave_every_invariant_held(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not (PG_BIN / "initdb").exists() or shutil.which("redis-server") is None:
        pytest.skip(f"the chaos run needs {PG_BIN}/initdb and redis-server")
    status = run.main(["--minutes", "3", "--seed", str(SEED)])
    output = capsys.readouterr().out
    with capsys.disabled():
        print(output[output.find("\nchaos run:") :])
    assert "invariants held; seed 1919" in output
    assert status == 0, output[-4000:]


def test_the_harness_is_runnable_on_its_own() -> None:
    assert (Path(run.__file__).parent / "__init__.py").exists()
    with pytest.raises(SystemExit) as exc:
        run.arguments(["--minutes", "x"])
    assert exc.value.code == 2
