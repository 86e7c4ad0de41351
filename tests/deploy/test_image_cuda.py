"""The worker image's CUDA variant (``deploy/image.sh build TAG --gpu``, EXTRAS=gpu), in a module
of its own: the CPU image and BuildKit's cache are removed (tests/deploy/test_image.py) before
this build adds its GBs of CUDA wheels, and this one's are removed after it.

The figures (build time, image size, the libraries loaded) go to
``<home>/image-gpu-figures.json``; nothing here is a timed assertion.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from callroles.lab.settings import StackSettings
from tests.support.containers import build_image, docker, release_image

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3600)]

GPU_CHECK = """
import json, onnxruntime as ort
from callroles.models.crnn import providers_for
loaded = []
try:
    ort.preload_dlls()  # the CUDA and cuDNN libraries of the nvidia wheels, as a session would
    loaded = [l.split()[-1] for l in open("/proc/self/maps") if "/nvidia/" in l]
except Exception as exc:
    loaded = [repr(exc)]
print(json.dumps({"providers": ort.get_available_providers(), "auto": providers_for("auto"),
                  "loaded": sorted(set(loaded))}))
"""


def test_cuda_variant_builds_and_falls_back_to_the_cpu() -> None:
    """onnxruntime-gpu with its CUDA wheels on the same base. This machine has no GPU, so what is
    checked is that the CUDA provider is built in, its libraries load, and a worker without a
    driver runs on the CPU (CALLROLES_EXECUTION_PROVIDER=auto)."""
    tag = "callroles:test-gpu"
    figures: dict[str, Any] = {}
    try:
        figures["gpu_build_s"] = round(build_image(tag, "--gpu"), 1)
        figures["gpu_image_bytes"] = int(
            docker("image", "inspect", tag, "--format", "{{.Size}}").stdout
        )
        got = json.loads(
            docker("run", "--rm", "--entrypoint", "python", tag, "-c", GPU_CHECK).stdout
        )
        assert "CUDAExecutionProvider" in got["providers"]
        assert got["auto"] == ["CPUExecutionProvider"]  # no libcuda.so.1: no driver here
        libs = " ".join(got["loaded"])
        assert "libcudart" in libs and "libcudnn" in libs, got["loaded"]
        figures["gpu_libraries_loaded"] = got["loaded"]
    finally:
        release_image(tag)
        out = StackSettings().home / "image-gpu-figures.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nCUDA image figures ({out}): {json.dumps(figures)}")
