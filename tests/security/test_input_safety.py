"""Security checks that need no broker: no code-executing deserialisation anywhere in the
source, the ONNX model trusted only when its checksum matches its metadata and only from the
configured path, and the byte, duration and decode-time limits enforced.
"""

from __future__ import annotations

import ast
import asyncio
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from callroles.base.errors import AudioError, InputError, ModelError
from callroles.base.settings import PROJECT_ROOT, Settings
from callroles.deploy import torch_weights
from callroles.frontend.decode import DecodeLimits, decode
from callroles.models.crnn import RoleModel
from callroles.streaming.app import load_models
from callroles.streaming.fetch import fetch
from callroles.streaming.settings import StreamingSettings
from tests.support import http_server
from tests.support.models import untrained_model

PACKAGES = ["callroles", "streaming", "schemas", "export", "deploy", "bench", "training", "lab"]
# module.function calls that can run code found in data
FORBIDDEN_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("marshal", "load"), ("marshal", "loads"),
    ("yaml", "load"), ("yaml", "unsafe_load"), ("torch", "load"), ("joblib", "load"),
    ("dill", "load"), ("dill", "loads"), ("cloudpickle", "loads"), ("shelve", "open"),
    ("jsonpickle", "decode"),
}  # fmt: skip
FORBIDDEN_NAMES = {"eval", "exec"}
# the one place a pickle is read: provisioned voice-encoder weights, through an Unpickler whose
# find_class refuses everything but tensor rebuild functions (checked below)
RESTRICTED_UNPICKLER = PROJECT_ROOT / "deploy" / "callroles" / "deploy" / "torch_weights.py"


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (PROJECT_ROOT / pkg).rglob("*.py"))


def _bad_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    name = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in FORBIDDEN_NAMES:
            found.append(f"{name}:{node.lineno} {f.id}()")
        if (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and (f.value.id, f.attr) in FORBIDDEN_CALLS
        ):
            found.append(f"{name}:{node.lineno} {f.value.id}.{f.attr}()")
        for kw in node.keywords:
            if kw.arg == "allow_pickle" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                found.append(f"{name}:{node.lineno} allow_pickle")
    return found


def test_no_code_executing_deserialisation_in_the_source() -> None:
    sources = _sources()
    assert len(sources) > 30  # the scan really covers the packages
    bad = [hit for p in sources if p != RESTRICTED_UNPICKLER for hit in _bad_calls(p)]
    assert not bad, "code-executing deserialisation:\n" + "\n".join(bad)


def test_scan_catches_what_it_forbids(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import pickle, yaml, numpy as np\npickle.loads(b'')\nyaml.load('')\neval('1')\n"
        "np.load('x', allow_pickle=True)\nmodel.eval()\n"
    )
    assert len(_bad_calls(probe)) == 4, _bad_calls(probe)


def test_the_only_pickle_reader_is_restricted() -> None:
    users = [p for p in _sources() if "import pickle" in p.read_text("utf-8")]
    assert users == [RESTRICTED_UNPICKLER]
    tree = ast.parse(RESTRICTED_UNPICKLER.read_text("utf-8"))
    finders = [
        fn
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        for fn in cls.body
        if isinstance(fn, ast.FunctionDef) and fn.name == "find_class"
    ]
    assert finders and any(isinstance(n, ast.Raise) for n in ast.walk(finders[0]))


def test_weights_reader_uses_only_the_restricted_unpickler() -> None:
    assert _bad_calls(RESTRICTED_UNPICKLER) == []


def test_restricted_unpickler_refuses_code() -> None:

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    payload = pickle.dumps(Boom())
    unpickler = torch_weights._Unpickler

    with pytest.raises(pickle.UnpicklingError):
        unpickler(io.BytesIO(payload), {}).load()


def test_a_zip_checkpoint_that_names_code_is_refused(tmp_path: Path) -> None:
    """The zip format (pyannote's checkpoints) goes through the same unpickler: a pickle naming
    any global outside the allowed ones fails before anything runs."""

    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    checkpoint = tmp_path / "model.bin"
    with zipfile.ZipFile(checkpoint, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"state_dict": Boom()}))
    with pytest.raises(pickle.UnpicklingError):
        torch_weights.read_zip_torch(checkpoint)


# --------------------------------------------------------------------------- model integrity


@pytest.fixture(scope="module")
def model_file() -> Path:
    return untrained_model()


def test_model_with_altered_weights_is_refused(model_file: Path, tmp_path: Path) -> None:

    proto = onnx.load(str(model_file))
    init = max(proto.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(init).copy()
    values.flat[0] += 1.0  # one weight changed, metadata left as it was
    init.CopyFrom(numpy_helper.from_array(values, init.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(proto, str(tampered))
    with pytest.raises(ModelError) as info:
        RoleModel.load(tampered)
    assert info.value.code == "model_corrupt"
    assert RoleModel.load(model_file).n_classes == 2  # the untouched file loads


def test_model_without_metadata_or_not_onnx_is_refused(model_file: Path, tmp_path: Path) -> None:

    proto = onnx.load(str(model_file))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07" + bytes(range(256)) * 4)
    codes = set()
    for path in (bare, junk):
        with pytest.raises(ModelError) as info:
            RoleModel.load(path)
        codes.add(info.value.code)
    assert codes <= {"model_foreign", "model_corrupt"} and codes


def test_worker_loads_the_model_from_the_configured_path_only(tmp_path: Path) -> None:

    with pytest.raises(ModelError) as info:
        load_models(Settings(model_path=tmp_path / "absent.onnx"))
    assert info.value.code == "model_missing"


# --------------------------------------------------------------------------- limits


def test_decode_time_limit_kills_the_decoder() -> None:

    wav = PROJECT_ROOT / "tests" / "data" / "reference" / "lamartine.wav"
    with pytest.raises(AudioError) as info:
        decode(wav, DecodeLimits(timeout_s=0.001))
    assert info.value.code == "audio_timeout"


def test_http_download_stops_at_max_bytes(tmp_path: Path) -> None:

    (tmp_path / "big.gsm").write_bytes(b"\xd0" * 33 * 2000)  # 66 kB
    settings = StreamingSettings(allowed_hosts=("127.0.0.1",), max_bytes=10_000, fetch_timeout_s=5)
    with http_server.running(tmp_path) as base, pytest.raises(InputError) as info:
        asyncio.run(fetch(f"{base}/files/big.gsm", settings))
    assert info.value.code == "recording_too_large"


def test_http_fetch_needs_an_allow_list() -> None:

    with pytest.raises(InputError) as info:  # empty allowed_hosts refuses every URL
        asyncio.run(fetch("http://127.0.0.1:9/x.gsm", StreamingSettings(allowed_hosts=())))
    assert info.value.code == "uri_not_allowed"
