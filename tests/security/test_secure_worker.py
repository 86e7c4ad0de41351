"""A real ``callroles worker`` configured only through CALLROLES_* environment variables runs
against the SASL/SCRAM + TLS Kafka and the ACL + TLS Redis, and answers a call with a result.
This exercises Faust's credentials (``streaming.clients.faust_credentials``) and the worker's
Redis client, not just aiokafka.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from callroles.lab.settings import StackSettings
from callroles.streaming.topics import create_topics
from tests.support import calls
from tests.support.models import untrained_model
from tests.support.secure_stack import SecureStack
from tests.support.stacks import secure_worker_env
from tests.support.workers import Workers

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_worker_over_sasl_ssl_and_redis_tls(
    secure: SecureStack, secure_settings: StackSettings, tmp_path: Path
) -> None:

    settings = secure_settings.model_copy(
        update={"topic_prefix": f"sec{uuid.uuid4().hex[:6]}.", "partitions": 1}
    )
    asyncio.run(create_topics(settings, 1))
    recordings = calls.make_calls(tmp_path / "calls", 1, "sec")
    env = {
        **secure_worker_env(secure, settings),
        "CALLROLES_ALLOWED_ROOTS": json.dumps([str(tmp_path)]),
        "CALLROLES_MODEL_PATH": str(untrained_model()),
        "OMP_NUM_THREADS": "1",
    }
    with Workers(settings, env, tmp_path, names=["secure-w0"]) as worker:
        worker.start(0)
        worker.wait_ready(timeout=240)
        cid = f"secure-{uuid.uuid4().hex[:6]}"
        calls.submit(settings, [(cid, calls.event(cid, recordings[0]))])
        got = calls.gather(settings, {cid}, 240, linger_s=3)
        assert [k for k, _ in got] == ["call_result"], got or worker.text(0)[-3000:]
        assert got[0][1]["worker"] == "secure-w0"
        assert secure.client_password not in worker.text(0)  # secrets never logged
