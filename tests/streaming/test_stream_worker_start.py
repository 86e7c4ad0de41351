"""A worker refuses to start, with a message that says what to do, when its Redis is not there."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.ports import free_port


def test_worker_without_redis_refuses_to_start() -> None:
    env = {**os.environ, "CALLROLES_REDIS_PORT": str(free_port())}  # nothing listens there
    env.pop("CALLROLES_REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "callroles", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "error [stack]: Redis is not reachable" in proc.stderr
    assert "callroles stack start" in proc.stderr
