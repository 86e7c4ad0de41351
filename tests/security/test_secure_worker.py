"""A real ``callroles worker`` configured only through CALLROLES_* environment variables runs
against the SASL/SCRAM + TLS Kafka and the ACL + TLS Redis, and answers a call with a result.
This exercises Faust's credentials (``streaming.clients.faust_credentials``) and the worker's
Redis client, not just aiokafka.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from callroles.deploy.secure_stack import SecureStack
from callroles.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

import harness  # noqa: E402

pytestmark = [pytest.mark.services, pytest.mark.slow]


def test_worker_over_sasl_ssl_and_redis_tls(
    secure: SecureStack, secure_settings: Settings, tmp_path: Path
) -> None:
    import asyncio

    from callroles.streaming.topics import create_topics

    settings = secure_settings.model_copy(
        update={"topic_prefix": f"sec{uuid.uuid4().hex[:6]}.", "partitions": 1}
    )
    asyncio.run(create_topics(settings, 1))
    calls = harness.make_calls(tmp_path / "calls", 1, "sec")
    env = {
        **os.environ,
        "CALLROLES_KAFKA_BOOTSTRAP": settings.bootstrap_servers,
        "CALLROLES_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CALLROLES_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CALLROLES_KAFKA_SASL_USERNAME": secure.client_user,
        "CALLROLES_KAFKA_SASL_PASSWORD": secure.client_password,
        "CALLROLES_KAFKA_SSL_CAFILE": str(secure.ca_file),
        "CALLROLES_REDIS_URL": settings.redis_dsn,
        "CALLROLES_REDIS_SSL_CA_CERTS": str(secure.ca_file),
        "CALLROLES_TOPIC_PREFIX": settings.topic_prefix,
        "CALLROLES_PARTITIONS": "1",
        "CALLROLES_ALLOWED_ROOTS": json.dumps([str(tmp_path)]),
        "CALLROLES_MODEL_PATH": str(harness.untrained_model()),
        "CALLROLES_WORKER_ID": "secure-w0",
        "OMP_NUM_THREADS": "1",
    }
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "callroles", "worker", "--web-port", "26466"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while "Worker]: Ready" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(1)
        cid = f"secure-{uuid.uuid4().hex[:6]}"
        harness.submit(settings, [(cid, harness.event(cid, calls[0]))])
        got = harness.gather(settings, {cid}, 240, linger_s=3)
        assert [k for k, _ in got] == ["call_result"], got or log.read_text()[-3000:]
        assert got[0][1]["worker"] == "secure-w0"
        text = log.read_text(errors="replace")
        assert secure.client_password not in text  # secrets never logged
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
