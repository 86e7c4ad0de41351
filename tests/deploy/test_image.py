"""The worker image (deploy/Dockerfile), built on a base made from Debian's packages and run
against the real stack: what it holds, ``callroles analyze`` in it, a worker container that takes
a call, start-up with a stack missing, and SIGTERM with a call in flight.

The figures (image size, build time, start-up, peak RSS) go to ``<home>/image-figures.json``
and into deploy/README.md; nothing here is a timed assertion.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callroles.base.settings import PROJECT_ROOT
from callroles.lab.settings import StackSettings
from callroles.streaming.topics import create_topics
from tests.support.calls import event, gather, submit
from tests.support.containers import (
    WorkerContainer,
    build_image,
    container_env,
    docker,
    http_get,
    release_image,
)
from tests.support.ports import free_port

# the first test builds the image (minutes on a fresh machine: pip downloads the worker's
# packages); the module's last step removes it and BuildKit's cache
pytestmark = [
    pytest.mark.docker,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.timeout(3600),
]

TAG = "callroles:test"
BASE = "callroles-base:bookworm"  # deploy/image.sh makes it


@pytest.fixture(scope="module")
def figures() -> Iterator[dict[str, Any]]:
    found: dict[str, Any] = {}
    yield found
    out = StackSettings().home / "image-figures.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(found, indent=2) + "\n")
    print(f"\nimage figures ({out}): {json.dumps(found)}")


@pytest.fixture(scope="module")
def image(figures: dict[str, Any]) -> Iterator[str]:
    try:
        figures["build_s"] = round(build_image(TAG), 1)
        figures["image_bytes"] = int(
            docker("image", "inspect", TAG, "--format", "{{.Size}}").stdout
        )
        yield TAG
    finally:
        release_image(TAG)


def _run(image: str, *args: str, user: str | None = None, timeout: float = 300) -> str:
    opts = ["--user", user] if user else []
    return docker(
        "run", "--rm", *opts, "--entrypoint", args[0], image, *args[1:], timeout=timeout
    ).stdout


INSPECT = """
import importlib.util, json, os, sys
import callroles.base.settings as s
def found(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
home = os.environ["CALLROLES_HOME"]
print(json.dumps({
    "uid": os.getuid(),
    "settings_file": s.__file__,
    "cwd": os.getcwd(),
    "cwd_files": os.listdir(),
    "modules": {m: found(m) for m in ["tensorflow", "tf_keras", "keras", "torch",
        "callroles.training", "callroles.export", "callroles.lab", "callroles.bench",
        "callroles.deploy", "callroles.streaming", "callroles.schemas", "inaSpeechSegmenter",
        "onnxruntime", "pip"]},
    "home_writable": os.access(home, os.W_OK),
    "faust_writable": os.access(os.path.join(home, "faust"), os.W_OK),
    "models_writable": os.access(os.path.join(home, "onnx", "ina"), os.W_OK),
    "models": sorted(os.listdir(os.path.join(home, "onnx", "ina"))),
    "numba_cache": sorted(os.listdir(os.environ["NUMBA_CACHE_DIR"])),
    "numba_writable": os.access(os.environ["NUMBA_CACHE_DIR"], os.W_OK),
    "env_cert": [k for k in os.environ if "CERT" in k],
    "secrets": os.path.exists("/run/secrets"),
}))
"""


def test_image_holds_the_worker_and_nothing_else(image: str) -> None:
    got = json.loads(_run(image, "python", "-c", INSPECT))
    assert got["uid"] == 10001
    # the installed packages are imported, not a source folder in the working directory
    assert got["settings_file"].startswith("/opt/callroles/lib/python3.11/site-packages/")
    assert got["cwd"] == "/home/callroles" and got["cwd_files"] == []
    modules = got["modules"]
    for absent in ["tensorflow", "tf_keras", "keras", "torch", "callroles.training",
                   "callroles.export", "callroles.lab", "callroles.bench", "callroles.deploy",
                   "pip"]:  # fmt: skip
        assert not modules[absent], f"{absent} is in the worker image"
    for present in [
        "callroles.streaming",
        "callroles.schemas",
        "inaSpeechSegmenter",
        "onnxruntime",
    ]:
        assert modules[present], f"{present} is missing from the worker image"
    assert got["home_writable"] and got["faust_writable"] and not got["models_writable"]
    assert any(m.endswith("-int8q1.onnx") for m in got["models"]), got["models"]
    # librosa's ufuncs compiled at build time, so a worker does not compile them as it starts
    assert any(d.startswith("librosa_") for d in got["numba_cache"]), got["numba_cache"]
    assert got["numba_writable"]
    assert not got["env_cert"] and not got["secrets"]
    for tool, flag in (("ffmpeg", "-version"), ("ffprobe", "-version"), ("sox", "--version")):
        assert _run(image, tool, flag).lower().startswith(tool), tool


def _extra_ca_lines() -> list[str]:
    """A line of each certificate that the host's bundle ($PIP_CERT) adds to Debian's: the CA of
    this machine's TLS inspection, which pip in the build needs and the image must not keep."""
    host = Path("/etc/ssl/certs/ca-certificates.crt").read_text()
    debian = _run(BASE, "cat", "/etc/ssl/certs/ca-certificates.crt")
    blocks = [b for b in host.split("-----END CERTIFICATE-----") if "BEGIN" in b]
    lines = []
    for block in blocks:
        body = block.split("-----BEGIN CERTIFICATE-----")[1].split()
        if body[3] not in debian:
            lines.append(body[3])  # a line from inside the base64, not the common header
    return lines


def test_build_secrets_stay_out_of_the_image(image: str) -> None:
    lines = _extra_ca_lines()
    history = docker("history", "--no-trunc", image).stdout
    assert "pip_cert" not in history.replace("id=pip_cert", "")
    if not lines:
        pytest.skip("this machine's CA bundle is Debian's: there is no extra CA to leak")
    pattern = " ".join(f"-e {line}" for line in lines)
    found = _run(
        image, "sh", "-c",
        f"grep -rlF {pattern} / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev || true",
        user="0",
    )  # fmt: skip
    assert found.strip() == "", f"the build's CA is in the image: {found}"


def test_build_context_leaves_out_local_state(tmp_path: Path) -> None:
    """The checkout's .dockerignore: what a build from a working checkout sends to the engine."""
    dockerfile = f"FROM {BASE}\nCOPY . /ctx\n"
    tag = f"callroles-context:{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        ["docker", "build", "-q", "-t", tag, "-f", "-", "."],
        input=dockerfile, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    try:
        listing = _run(tag, "sh", "-c", "cd /ctx && find . -maxdepth 2 -name '*' | sort")
        top = set(_run(tag, "ls", "-A", "/ctx").split())
    finally:
        docker("rmi", "-f", tag, check=False)
    assert top <= {"pyproject.toml", "constraints.txt", "README.md", "callroles", "schemas",
                   "streaming", "lab", "training", "export", "deploy"}, top  # fmt: skip
    assert ".venv" not in top and ".callroles" not in top and ".git" not in top
    assert "__pycache__" not in listing and ".egg-info" not in listing


def _host_analyze(path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "callroles", "analyze", "--json", str(path)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return dict(json.loads(proc.stdout))


def _figures_of(result: dict[str, Any]) -> tuple[Any, ...]:
    speakers = sorted((s["speaker"], s["role"], s["talk_time_s"]) for s in result["speakers"])
    call = {k: result["call"][k] for k in ("silence_s", "music_s", "turn_count")}
    return result["agent_speaker"], result["separation_strategy"], speakers, call


def test_analyze_in_the_image_gives_the_hosts_result(image: str, reference_dir: Path) -> None:
    out = docker(
        "run", "--rm", "-v", f"{reference_dir}:/recordings:ro", image,
        "analyze", "--json", "/recordings/lamartine.wav", timeout=300,
    ).stdout  # fmt: skip
    inside = json.loads(out)
    assert inside["model"]["provider"] == "CPUExecutionProvider"
    assert _figures_of(inside) == _figures_of(_host_analyze(reference_dir / "lamartine.wav"))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> Path:
    """The folder mounted read-only at /recordings (an allowed root): the reference call, and
    the same ten times over (146 s), long enough to be in flight when its worker is stopped."""
    folder = tmp_path_factory.mktemp("recordings")
    shutil.copy(reference_dir / "lamartine.wav", folder / "short.wav")
    subprocess.run(["sox", *[str(folder / "short.wav")] * 10, str(folder / "long.wav")], check=True)
    folder.chmod(0o755)  # the image's user reads it
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def topics(stack: StackSettings) -> StackSettings:
    settings = stack.model_copy(
        update={"topic_prefix": f"img{uuid.uuid4().hex[:8]}.", "partitions": 2}
    )
    asyncio.run(create_topics(settings))
    return settings


def _one_result(got: list[tuple[str, dict[str, Any]]], call_id: str) -> dict[str, Any]:
    computed = [e for k, e in got if k == "call_result" and not e.get("replay")]
    errors = [e for k, e in got if k == "call_error"]
    assert len(computed) == 1 and not errors, f"{call_id}: {got}"
    return computed[0]


def _wait_in_flight(worker: WorkerContainer, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while worker.metric("callroles_calls_in_flight") < 1:
        assert time.monotonic() < deadline, f"no call in flight:\n{worker.logs()[-3000:]}"
        time.sleep(0.2)


def test_worker_container_scores_a_call_and_stops_cleanly_mid_call(
    image: str, topics: StackSettings, recordings: Path, reference_dir: Path,
    figures: dict[str, Any],
) -> None:  # fmt: skip
    first = WorkerContainer(image, topics, "c0", recordings, CALLROLES_LEASE_TTL_S="20")
    second = WorkerContainer(image, topics, "c1", recordings, CALLROLES_LEASE_TTL_S="20")
    others: list[WorkerContainer] = []
    try:
        first.start()
        figures["startup_s"], page = first.wait_ready()
        assert page["ready"] and page["partitions"] == [0, 1], page
        live = json.loads(docker("exec", first.name, "python", "-c", LIVE).stdout)
        assert live == {"live": True, "crash": None}

        # the first call through `callroles serve` in the image (HTTP ingest, the Service)
        http_port = free_port()
        ingest = WorkerContainer(
            image, topics, "http", recordings, command="serve",
            CALLROLES_HTTP_HOST="127.0.0.1", CALLROLES_HTTP_PORT=str(http_port),
        )  # fmt: skip
        others.append(ingest)
        ingest.start()
        _wait_answers(ingest, f"http://127.0.0.1:{http_port}/healthz")
        status, answer = ingest.post(
            "/calls", {"call_id": "short", "recording_uri": "/recordings/short.wav"}, http_port
        )
        assert status == 202 and answer["call_id"] == "short", answer
        figures["serve_rss_mib"] = round(ingest.rss_mb(), 1)
        short = _one_result(gather(topics, {"short"}, 240, linger_s=2), "short")
        assert short["worker"] == "c0"
        assert _figures_of(short) == _figures_of(_host_analyze(reference_dir / "lamartine.wav"))
        figures["rss_mib_after_short_call"] = round(first.rss_mb("VmRSS"), 1)
        figures["peak_rss_mib_short_call"] = round(first.rss_mb(), 1)

        # SIGTERM (docker stop, a pod's deletion) while the long call is being scored
        submit(topics, [("long", event("long", "/recordings/long.wav"))])
        _wait_in_flight(first)
        code, exit_s = first.terminate()
        assert code == 0, first.logs()[-4000:]
        second.start()
        second.wait_ready()
        got = gather(topics, {"long"}, 400, linger_s=10)
        long = _one_result(got, "long")
        assert long["duration_s"] == pytest.approx(146.4, abs=0.5)
        figures["sigterm"] = {
            "exit_code": code,
            "exit_s": round(exit_s, 1),
            # c0: finished before it exited; c1: redelivered to the next worker and run there
            "long_call_finished_by": long["worker"],
            "replays": sum(1 for k, e in got if e.get("replay")),
        }
        # the worker left standing takes the next call
        submit(topics, [("again", event("again", "/recordings/long.wav"))])
        assert _one_result(gather(topics, {"again"}, 240, linger_s=2), "again")["worker"] == "c1"
        figures["rss_mib_after_long_call"] = round(second.rss_mb("VmRSS"), 1)
        figures["peak_rss_mib_long_call"] = round(second.rss_mb(), 1)
    finally:
        for box in (first, second, *others):
            box.remove()


def _wait_answers(box: WorkerContainer, url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while http_get(url)[0] != 200:
        assert box.running(), box.logs()[-3000:]
        assert time.monotonic() < deadline, f"{url} never answered:\n{box.logs()[-3000:]}"
        time.sleep(0.25)


LIVE = (
    "import json, os, urllib.request; port = os.environ['CALLROLES_WORKER_WEB_PORT']; "
    "print(urllib.request.urlopen(f'http://127.0.0.1:{port}/live', timeout=5).read().decode())"
)


def _start_alone(image: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = ["run", "--rm", "--network", "host"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    return docker(*args, image, "worker", check=False, timeout=240)


def test_worker_container_refuses_to_start_without_redis_or_kafka(
    image: str, topics: StackSettings
) -> None:
    closed = free_port()  # nothing listens there
    no_redis = _start_alone(
        image, container_env(topics, CALLROLES_REDIS_URL=f"redis://127.0.0.1:{closed}/0")
    )
    assert no_redis.returncode == 1, no_redis.stderr[-3000:]
    assert f"Redis is not reachable at 127.0.0.1:{closed}" in no_redis.stderr
    no_kafka = _start_alone(
        image, container_env(topics, CALLROLES_KAFKA_BOOTSTRAP=f"127.0.0.1:{closed}")
    )
    assert no_kafka.returncode == 1, no_kafka.stderr[-3000:]
    assert f"cannot reach Kafka at 127.0.0.1:{closed}" in no_kafka.stderr
