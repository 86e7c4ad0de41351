"""deploy/k8s/ offline: every Kubernetes object against the API's JSON schemas (strict: an unknown
field fails), shipped in the kubernetes-validate package; KEDA's objects, which have no packaged
schema, against the shape of KEDA's CRDs as its documentation gives it; and each manifest
against the image and the code it runs (ports, user, folders, probes, topic, consumer group)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from callroles.schemas import TOPICS
from callroles.streaming.settings import StreamingSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# the oldest Kubernetes the manifests are written for, and the newest the package knows
K8S_VERSIONS = ["1.29", kubernetes_validate.utils.latest_version()]


def _docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_objects_match_the_api_schemas(version: str) -> None:
    checked = []
    for doc in _docs():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} (Kubernetes {version}): {exc}")
        checked.append(doc["kind"])
    assert sorted(checked) == ["ConfigMap", "Deployment", "Deployment", "Secret", "Service"]


def test_the_packaged_schemas_do_reject_a_wrong_field() -> None:
    doc = _one("Deployment", "callroles-worker")
    probe = doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGet"]["paht"] = "/ready"  # a typo a cluster would refuse
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[0], strict=True)


# KEDA's CRDs (keda.sh/v1alpha1), as keda.sh documents ScaledObject, TriggerAuthentication and the
# kafka trigger; limited to the fields KEDA defines, so a misspelt one fails. Trigger metadata is
# a map of strings in the CRD: a YAML number or boolean there is refused by the cluster.
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_NAME_REF = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
    "additionalProperties": False,
}
_KAFKA_METADATA = {
    **_STRINGS,
    "required": ["bootstrapServers", "consumerGroup", "topic"],
    "propertyNames": {
        "enum": [
            "bootstrapServers", "consumerGroup", "topic", "lagThreshold",
            "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers",
            "scaleToZeroOnInvalidOffset", "excludePersistentLag", "limitToPartitionsWithLag",
            "partitionLimitation", "version", "sasl", "tls", "unsafeSsl",
        ]
    },
    "properties": {
        "offsetResetPolicy": {"enum": ["latest", "earliest"]},
        "sasl": {"enum": ["none", "plaintext", "scram_sha256", "scram_sha512", "oauthbearer"]},
        "tls": {"enum": ["enable", "disable"]},
        "lagThreshold": {"pattern": "^[0-9]+$"},
    },
}  # fmt: skip
_META = {"type": "object", "required": ["name"]}


def _keda(spec: dict[str, Any]) -> dict[str, Any]:
    """A keda.sh/v1alpha1 object whose spec has the given shape."""
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"},
            "metadata": _META,
            "spec": spec,
        },
    }


KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScaledObject": _keda(
        {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    **_NAME_REF,
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "apiVersion": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                **{
                    k: {"type": "integer", "minimum": 0}
                    for k in (
                        "pollingInterval",
                        "cooldownPeriod",
                        "initialCooldownPeriod",
                        "idleReplicaCount",
                        "minReplicaCount",
                        "maxReplicaCount",
                    )
                },  # fmt: skip
                "fallback": {"type": "object"},
                "advanced": {"type": "object"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "kafka"},
                            "name": {"type": "string"},
                            "metadata": _KAFKA_METADATA,
                            "authenticationRef": _NAME_REF,
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                        },
                    },
                },
            },
        }
    ),
    "TriggerAuthentication": _keda(
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secretTargetRef": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["parameter", "name", "key"],
                        "additionalProperties": False,
                        "properties": {
                            # the kafka scaler's authentication parameters
                            "parameter": {
                                "enum": [
                                    "sasl",
                                    "username",
                                    "password",
                                    "tls",
                                    "ca",
                                    "cert",
                                    "key",
                                    "keyPassword",
                                ]  # fmt: skip
                            },
                            "name": {"type": "string"},
                            "key": {"type": "string"},
                        },
                    },
                },
                "env": {"type": "array"},
                "podIdentity": {"type": "object"},
            },
        }
    ),
}


def test_keda_objects_match_kedas_documented_shape() -> None:
    keda = [d for d in _docs() if d["apiVersion"].startswith("keda.sh/")]
    assert sorted(d["kind"] for d in keda) == ["ScaledObject", "TriggerAuthentication"]
    for doc in keda:
        jsonschema.validate(doc, KEDA_SCHEMAS[doc["kind"]])


def test_keda_scales_the_worker_on_its_group_and_topic() -> None:
    scaled = _one("ScaledObject", "callroles-worker")
    config = _one("ConfigMap", "callroles-config")["data"]
    secret = _one("Secret", "callroles-secrets")["stringData"]
    (trigger,) = scaled["spec"]["triggers"]
    meta = trigger["metadata"]
    app_source = (DEPLOY.parent / "streaming" / "callroles" / "streaming" / "app.py").read_text()
    assert 'app_id = f"{settings.topic_prefix}callroles-worker"' in app_source
    assert meta["consumerGroup"] == "callroles-worker"  # Faust's app id is the group
    assert meta["topic"] == TOPICS["call_finished"]
    assert meta["offsetResetPolicy"] == "earliest"  # as the worker's consumer_auto_offset_reset
    assert meta["bootstrapServers"] == config["CALLROLES_KAFKA_BOOTSTRAP"]
    assert config["CALLROLES_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and meta["tls"] == "enable"
    assert meta["sasl"] == config["CALLROLES_KAFKA_SASL_MECHANISM"].lower().replace(
        "-", "_", 1
    ).replace("-", "")
    assert (
        scaled["spec"]["scaleTargetRef"]["name"]
        == _one("Deployment", "callroles-worker")["metadata"]["name"]
    )
    # more workers than partitions would sit idle
    assert scaled["spec"]["maxReplicaCount"] <= int(config["CALLROLES_PARTITIONS"])
    auth = _one("TriggerAuthentication", trigger["authenticationRef"]["name"])
    for ref in auth["spec"]["secretTargetRef"]:
        if ref["name"] == "callroles-secrets":
            assert ref["key"] in secret, ref


def _dockerfile_user_and_env() -> tuple[int, dict[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    user = int(re.findall(r"^USER (\d+)", text, re.M)[-1])
    env = dict(re.findall(r"\b([A-Z_]+)=(\S+)", re.findall(r"^ENV (.*)$", text, re.M)[-1]))
    return user, env


def test_deployments_match_the_image_and_the_code() -> None:
    user, env = _dockerfile_user_and_env()
    defaults = StreamingSettings()
    worker = _one("Deployment", "callroles-worker")["spec"]["template"]["spec"]
    serve = _one("Deployment", "callroles-serve")["spec"]["template"]["spec"]
    for pod in (worker, serve):
        assert pod["securityContext"]["runAsUser"] == user
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"]
    (box,) = worker["containers"]
    assert box["args"] == ["worker"]
    assert box["ports"] == [{"name": "web", "containerPort": defaults.worker_web_port}]
    assert box["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert box["livenessProbe"]["httpGet"]["path"] == "/live"
    probes = (DEPLOY.parent / "streaming" / "callroles" / "streaming" / "probes.py").read_text()
    assert '@app.page("/ready")' in probes and '@app.page("/live")' in probes
    # the worker writes Faust's data and its caches under CALLROLES_HOME, and decodes in /tmp
    mounts = {m["mountPath"] for m in box["volumeMounts"]}
    home = env["CALLROLES_HOME"]
    assert {f"{home}/faust", f"{home}/cache", "/tmp"} <= mounts
    # numba's cache, compiled in the image, is copied into a writable volume before the worker
    # starts (numba uses no cache folder it cannot write)
    numba = env["NUMBA_CACHE_DIR"]
    assert numba in mounts and env["NUMBA_CPU_NAME"] == "generic"
    (init,) = worker["initContainers"]
    (into,) = init["volumeMounts"]
    assert init["image"] == box["image"]
    assert init["command"] == ["cp", "-a", f"{numba}/.", f"{into['mountPath']}/"]
    assert {m["name"] for m in box["volumeMounts"] if m["mountPath"] == numba} == {into["name"]}
    (http,) = serve["containers"]
    assert http["args"] == ["serve"]
    assert http["ports"] == [{"name": "http", "containerPort": defaults.http_port}]
    service = _one("Service", "callroles-serve")["spec"]
    assert (
        service["selector"]
        == _one("Deployment", "callroles-serve")["spec"]["selector"]["matchLabels"]
    )
    assert service["ports"][0]["targetPort"] == "http"


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0}
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * units[unit]


def test_memory_requests_and_limits_cover_the_measured_rss() -> None:
    """bench/results/image.json: the peak RSS of a worker container after a call, and of
    ``callroles serve``, measured by tests/deploy/test_image.py. A request below it would let a
    node overcommit; a limit within twice of it would kill a worker on a longer call."""
    measured = json.loads((DEPLOY.parent / "bench" / "results" / "image.json").read_text())
    others = measured.get("peak_rss_mib_other_runs", {})
    worker_peak = max(
        measured["peak_rss_mib_short_call"],
        measured["peak_rss_mib_long_call"],
        *(rss for runs in others.values() for rss in runs),
    )
    for name, peak in (
        ("callroles-worker", worker_peak),
        ("callroles-serve", measured["serve_rss_mib"]),
    ):
        (box,) = _one("Deployment", name)["spec"]["template"]["spec"]["containers"]
        request = _mib(box["resources"]["requests"]["memory"])
        limit = _mib(box["resources"]["limits"]["memory"])
        assert 1.25 * peak <= request <= limit, (name, peak, request)
        assert limit >= 2 * peak, (name, peak, limit)
