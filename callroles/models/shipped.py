"""The models that ship inside the package, so a fresh install scores calls with no training.

``default_model/`` holds the role CRNN (``model.onnx``, its trunk-once graph and evaluation
report), the speaker-count model (``activity.onnx``) and the music check (``music.onnx``);
``callroles default-model rebuild``, ``callroles activity train --ship`` and ``callroles music
train --ship`` write them. Runtime code finds them here, never in ``export``.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parent / "default_model"
ROLE_MODEL = SHIPPED_DIR / "model.onnx"
ACTIVITY_MODEL = SHIPPED_DIR / "activity.onnx"
MUSIC_MODEL = SHIPPED_DIR / "music.onnx"
