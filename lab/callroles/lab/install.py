"""Installing what the local stack runs: the Kafka broker's jars (Maven Central) and redis-server.

Kept apart from process management (``stack.py``): these steps touch the network and the system
once; starting and stopping must not.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from callroles.base.errors import StackError
from callroles.lab.settings import StackSettings

log = logging.getLogger(__name__)

DEPLOY_DIR = Path(__file__).resolve().parent
KAFKA_POM = DEPLOY_DIR / "kafka" / "pom.xml"
KAFKA_LOG4J = DEPLOY_DIR / "kafka" / "log4j2.xml"
MIN_JAVA = 17


def kafka_cluster_id() -> str:
    """A random KRaft cluster id. Kafka's argument parser reads one starting with '-' as an option,
    so such ids (1 in 64 of base64url) are drawn again."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def kafka_libs_dir(settings: StackSettings) -> Path:
    """Jars are shared by every stack of this home, whatever its ports."""
    return settings.home / "stack" / f"kafka-{settings.kafka_version}" / "libs"


def java_major_version() -> int | None:
    """Major version of the ``java`` on PATH, or None when there is none."""
    java = shutil.which("java")
    if java is None:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_cmd(libs: Path, main: str, *args: str, heap: str = "512m") -> list[str]:
    java = shutil.which("java") or "java"
    return [
        java, f"-Xmx{heap}", "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
        "-cp", f"{libs}/*", main, *args,
    ]  # fmt: skip


def ensure_kafka_jars(settings: StackSettings) -> Path:
    """Resolve the broker's class path from Maven Central once; later starts reuse it."""
    libs = kafka_libs_dir(settings)
    stamp = libs / ".complete"
    if stamp.exists():
        return libs
    java = java_major_version()
    if java is None:
        raise StackError(
            "Java is missing. Kafka needs Java 17 or newer: install it with "
            "`apt-get install openjdk-17-jre-headless` (or any JDK 17+) and run again."
        )
    if java < MIN_JAVA:
        raise StackError(f"Java {java} found, Kafka 4 needs Java {MIN_JAVA}+; install a newer JDK.")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven is missing: install it with `apt-get install maven` and run again.")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(KAFKA_POM),
        *(["-s", str(settings.maven_settings)] if settings.maven_settings else []),
        f"-Dkafka.version={settings.kafka_version}",
        f"-Dscala.binary={settings.scala_version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}", "-DincludeScope=runtime",
    ]  # fmt: skip
    log.info("fetching Kafka %s jars from Maven Central", settings.kafka_version)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise StackError(
            "could not fetch the Kafka broker from Maven Central (no network, or a proxy is "
            "needed: set CALLROLES_MAVEN_SETTINGS to a settings.xml with it). Maven said:\n" + tail
        )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    stamp.touch()
    return libs


def ensure_redis_server() -> str:
    """Path of redis-server, installing Debian's package when we are allowed to."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log.info("installing Debian's redis-server")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            env=env,
            check=False,
            capture_output=True,
        )
        found = shutil.which("redis-server")
        if found:
            return found
    raise StackError(
        "redis-server is missing: install it with `sudo apt-get install redis-server`."
    )
