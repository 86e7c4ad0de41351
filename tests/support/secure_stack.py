"""A security-configured local stack: Kafka with SASL/SCRAM-SHA-512 over TLS, Redis with an ACL
user over TLS, on their own ports on 127.0.0.1.

It exists to prove that the security settings (``kafka_security_protocol``, ``kafka_sasl_*``,
``kafka_ssl_cafile``, ``redis_url`` with ``rediss://`` and ``redis_ssl_ca_certs``) reach real
servers configured the way a production deployment is. Everything is throwaway: a fresh CA,
broker and Redis certificates (openssl) and SCRAM users (added by ``kafka.tools.StorageTool
format --add-scram``) are made in a new folder on every start. It reuses the plain stack's
helpers (Kafka jars, Java command line, probes).

The KRaft controller listener stays PLAINTEXT on 127.0.0.1 (only the broker itself talks to it);
clients and inter-broker traffic use SASL_SSL.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from callroles.base.errors import StackError
from callroles.lab import stack as plain
from callroles.lab.install import kafka_cluster_id
from callroles.lab.settings import StackSettings

SCRAM = "SCRAM-SHA-512"
DEFAULT_PORTS = {"kafka": 29192, "controller": 29193, "redis": 26479}


@dataclass(frozen=True)
class SecureStack:
    """Where the secure services listen and the throwaway secrets they were started with."""

    root: Path
    kafka_port: int
    controller_port: int
    redis_port: int
    client_user: str = "callroles"
    client_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    store_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def kafka_pid(self) -> Path:
        return self.root / "kafka.pid"

    @property
    def redis_pid(self) -> Path:
        return self.root / "redis.pid"

    @property
    def kafka_log(self) -> Path:
        return self.root / "kafka.log"

    def client_settings(self, base: StackSettings, **overrides: object) -> StackSettings:
        """StackSettings a worker would use against this stack (secrets as SecretStr)."""
        values: dict[str, object] = {
            "home": base.home,
            "kafka_bootstrap": f"127.0.0.1:{self.kafka_port}",
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": SCRAM,
            "kafka_sasl_username": self.client_user,
            "kafka_sasl_password": SecretStr(self.client_password),
            "kafka_ssl_cafile": self.ca_file,
            "redis_url": SecretStr(
                f"rediss://{self.client_user}:{self.client_password}@127.0.0.1:{self.redis_port}/0"
            ),
            "redis_ssl_ca_certs": self.ca_file,
        }
        values.update(overrides)
        return base.model_copy(update=values)


# --------------------------------------------------------------------------- certificates


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"openssl {args[0]} failed: {proc.stderr.strip()[-400:]}")


def make_certificates(tls: Path, store_password: str) -> None:
    """A throwaway CA, and one server certificate for 127.0.0.1/localhost signed by it.

    Writes ca.pem, server.pem, server.key and server.p12 (the broker's PKCS12 keystore).
    """
    if shutil.which("openssl") is None:
        raise StackError("openssl is missing: `apt-get install openssl`")
    tls.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=callroles test CA",
        cwd=tls,
    )
    (tls / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
        cwd=tls,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "server.pem",
        "-extfile",
        "san.ext",
        cwd=tls,
    )
    _openssl("pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key",
             "-certfile", "ca.pem", "-name", "broker", "-out", "server.p12",
             "-passout", f"pass:{store_password}", cwd=tls)  # fmt: skip
    for name in ("ca.key", "server.key", "server.p12"):
        (tls / name).chmod(0o600)


# --------------------------------------------------------------------------- kafka


def _kafka_properties(s: SecureStack) -> str:
    tls = s.root / "tls"
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{s.admin_password}";'
    )
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers=127.0.0.1:{s.controller_port}",
        f"listeners=SASL_SSL://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.controller_port}",
        f"advertised.listeners=SASL_SSL://127.0.0.1:{s.kafka_port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
        f"sasl.enabled.mechanisms={SCRAM}",
        f"sasl.mechanism.inter.broker.protocol={SCRAM}",
        f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}",
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.location={tls / 'server.p12'}",
        f"ssl.keystore.password={s.store_password}",
        f"ssl.key.password={s.store_password}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={tls / 'ca.pem'}",
        "ssl.client.auth=none",
        f"log.dirs={s.root / 'kafka-data'}",
        "num.partitions=2",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=2",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=true",
        "",
    ])  # fmt: skip


def _start_kafka(s: SecureStack, base: StackSettings, timeout: float) -> None:
    libs = plain.ensure_kafka_jars(base)
    config = s.root / "server.properties"
    config.write_text(_kafka_properties(s))
    config.chmod(0o600)
    cluster_id = kafka_cluster_id()
    fmt = plain.java_cmd(
        libs, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config),
        "--standalone",
        "--add-scram", f"{SCRAM}=[name=admin,password={s.admin_password}]",
        "--add-scram", f"{SCRAM}=[name={s.client_user},password={s.client_password}]",
        heap="256m",
    )  # fmt: skip
    proc = subprocess.run(fmt, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"formatting the secure Kafka storage failed:\n{proc.stdout}{proc.stderr}")
    with s.kafka_log.open("ab") as out:
        broker = subprocess.Popen(
            plain.java_cmd(libs, "kafka.Kafka", str(config)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    s.kafka_pid.write_text(str(broker.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker.poll() is not None:
            break
        if plain.port_answers(s.kafka_port) and _kafka_answers(s):
            return
        time.sleep(1.0)
    tail = "\n".join(s.kafka_log.read_text(errors="replace").splitlines()[-15:])
    raise StackError(f"secure Kafka did not start within {timeout:.0f} s; its log ends:\n{tail}")


def _kafka_answers(s: SecureStack, timeout: float = 5.0) -> bool:
    """True when the broker answers a metadata request over SASL_SSL as the client user."""
    return plain.kafka_ready(
        f"127.0.0.1:{s.kafka_port}",
        timeout,
        security_protocol="SASL_SSL",
        ssl_context=ssl.create_default_context(cafile=str(s.ca_file)),
        sasl_mechanism=SCRAM,
        sasl_plain_username=s.client_user,
        sasl_plain_password=s.client_password,
    )


# --------------------------------------------------------------------------- redis


def _start_redis(s: SecureStack, timeout: float) -> None:
    server = plain.ensure_redis_server()
    tls = s.root / "tls"
    conf = s.root / "redis.conf"
    conf.write_text("\n".join([
        "bind 127.0.0.1",
        "port 0",  # no plaintext port at all
        f"tls-port {s.redis_port}",
        f"tls-cert-file {tls / 'server.pem'}",
        f"tls-key-file {tls / 'server.key'}",
        f"tls-ca-cert-file {tls / 'ca.pem'}",
        "tls-auth-clients no",
        "user default off",
        f"user {s.client_user} on >{s.client_password} ~* &* +@all",
        "daemonize yes",
        f"pidfile {s.redis_pid}",
        f"logfile {s.root / 'redis.log'}",
        f"dir {s.root}",
        'save ""',
        "appendonly yes",
        "",
    ]))  # fmt: skip
    conf.chmod(0o600)
    proc = subprocess.run([server, str(conf)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"secure redis-server failed to start: {proc.stderr or proc.stdout}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if plain.port_answers(s.redis_port):
            return
        time.sleep(0.2)
    raise StackError(f"secure Redis did not listen within {timeout:.0f} s; see {s.root}/redis.log")


# --------------------------------------------------------------------------- lifecycle


def start(
    base: StackSettings, ports: dict[str, int] | None = None, timeout: float = 120.0
) -> SecureStack:
    """Start both secure services in a fresh folder; stop whatever half-started on failure."""
    p = {**DEFAULT_PORTS, **(ports or {})}
    for port in p.values():
        if plain.port_answers(port):
            raise StackError(
                f"port {port} on 127.0.0.1 is taken; pick other ports for the secure stack"
            )
    root = base.home / "stack" / f"secure-{p['kafka']}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    root.chmod(0o700)
    s = SecureStack(root, p["kafka"], p["controller"], p["redis"])
    make_certificates(root / "tls", s.store_password)
    try:
        _start_redis(s, 20.0)
        _start_kafka(s, base, timeout)
    except BaseException:
        stop(s)
        raise
    return s


def _kill(pid_file: Path, grace: float = 20.0) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    plain.terminate(pid, grace, group=False)
    pid_file.unlink(missing_ok=True)


def stop(s: SecureStack) -> None:
    """Stop both services (by the pids this module recorded) and delete the secrets folder."""
    _kill(s.kafka_pid)
    _kill(s.redis_pid)
    shutil.rmtree(s.root / "tls", ignore_errors=True)
