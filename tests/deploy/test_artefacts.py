"""Production artefacts parse and reference settings that exist (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from callroles.lab.settings import StackSettings
from callroles.schemas import TOPICS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV_NAME = re.compile(r"\bCALLROLES_[A-Z0-9_]+\b")


def _settings_env_names() -> set[str]:
    return {f"CALLROLES_{name.upper()}" for name in StackSettings.model_fields}


def test_manifests_parse() -> None:
    docs = []
    for path in [DEPLOY / "docker-compose.yml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]:
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    kinds = {d.get("kind") for d in docs}
    assert {"Deployment", "ConfigMap", "Secret", "ScaledObject"} <= kinds
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert {"kafka", "redis", "worker"} <= set(compose["services"])


def test_every_callroles_variable_is_a_real_setting() -> None:
    known = _settings_env_names() | {"CALLROLES_HOME"}
    for path in [
        DEPLOY / "docker-compose.yml",
        DEPLOY / "Dockerfile",
        *sorted((DEPLOY / "k8s").glob("*.yaml")),
    ]:
        unknown = set(ENV_NAME.findall(path.read_text())) - known
        assert not unknown, f"{path.name} names settings that do not exist: {sorted(unknown)}"


def test_configmap_values_build_valid_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())["data"]
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.yaml").read_text())["stringData"]
    for key, value in {**config, **secret}.items():
        monkeypatch.setenv(key, value)
    settings = StackSettings()
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.allowed_roots == (Path("/recordings"),)
    assert "change-me" not in repr(settings)  # secrets never show in reprs or logs


def test_keda_scales_on_the_real_topic_and_consumer_group() -> None:

    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "keda-scaledobject.yaml").read_text()))
    trigger = docs[0]["spec"]["triggers"][0]["metadata"]
    assert trigger["topic"] == TOPICS["call_finished"]
    app_source = (DEPLOY.parent / "streaming" / "callroles" / "streaming" / "app.py").read_text()
    assert f'f"{{settings.topic_prefix}}{trigger["consumerGroup"]}"' in app_source
