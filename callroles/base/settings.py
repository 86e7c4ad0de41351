"""The runtime's settings: one frozen object from ``CALLROLES_*`` environment variables.

A process builds it once, at its entry point (a command, a worker), and passes it down: library
code never reads the environment. Variables are prefixed ``CALLROLES_`` (``CALLROLES_MODEL_PATH``);
a ``.env``-style file named by ``CALLROLES_SETTINGS_FILE`` is read too. Secrets are
``SecretStr``, so they never show up in logs or reprs. What a worker adds (Kafka, the ledger,
ingestion) is in ``callroles.streaming.settings``, what the local stack adds in
``callroles.lab.settings``: each concern's settings extend these.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # callroles/base/settings.py -> the checkout
#: real data for developers and CI, beside the project (../shared/data); not in a user's clone
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def _default_home() -> Path:
    """Data lives inside a checkout (ignored folder) when run from one, else in the user's home."""
    if (PROJECT_ROOT / "pyproject.toml").exists() and (PROJECT_ROOT / "deploy").is_dir():
        return PROJECT_ROOT / ".callroles"
    return Path.home() / ".callroles"


class Settings(BaseSettings):
    """What one call needs: models, limits, agents' voiceprints. Immutable once built."""

    model_config = SettingsConfigDict(
        env_prefix="CALLROLES_",
        env_file=os.environ.get("CALLROLES_SETTINGS_FILE"),
        frozen=True,
        extra="ignore",
    )

    # where models, converted weights and caches live
    home: Path = _default_home()

    # Models
    model_path: Path | None = None  # the role model (None: the shipped one)
    execution_provider: str = "auto"  # auto, cuda, cpu
    # ONNX Runtime intra-op threads per session; 0: its default (one per core). A worker pinned
    # to N cores (taskset, a pod's CPU limit) sets N, so its threads do not fight over them.
    onnx_threads: int = 0
    # the speaker-count model behind talk time and the music check (None: the shipped ones)
    activity_model_path: Path | None = None
    music_model_path: Path | None = None

    # What a result says
    # voices in a mono call (callroles.frontend.count): "two-or-more", two (a call centre's
    # usual call) unless a third or fourth voice is counted with certainty; "two", split every
    # call into two; "auto", count 1 to 4 from voice embeddings over the speech. A command's own
    # --speakers overrides it.
    speaker_count: Literal["two-or-more", "two", "auto"] = "two-or-more"
    # the call centre's own hold music and announcements (callroles.frontend.known): folders of
    # audio files, joined by os.pathsep; files under a folder named moh or music are music,
    # the others announcements. Where a call plays one of them, nobody talks. None: off
    known_sounds: str | None = None
    # agents' voiceprints (callroles.agents.voiceprints): a redis:// URL, or a JSON file; None:
    # <home>/voiceprints.json. Biometric data: `callroles agents forget ID` removes one.
    voiceprint_store: str | None = None
    # learn agents' voices from calls (callroles.agents.enrolment): "stereo", a stereo call whose
    # layout names the agent's side; "recurring", the one voice that recurs across a mono
    # agent's calls; both by default (a mono call centre has no other way to right roles);
    # "off", only `callroles agents enroll`
    auto_enrol: Literal["off", "stereo", "recurring", "stereo,recurring"] = "stereo,recurring"
    # how long the evidence of who recurs (customers' voices too) is kept at most
    evidence_ttl_days: float = 30.0

    # What a single recording may cost
    max_bytes: int = 200_000_000
    max_duration_s: float = 3600.0
    decode_timeout_s: float = 120.0

    # Redis (callroles.base.redis): the voiceprint store and the worker's ledger
    redis_url: SecretStr | None = None
    redis_port: int = 16379  # the local stack's, when redis_url is not set
    redis_password: SecretStr | None = None  # used when redis_url has none
    redis_ssl: bool = False
    redis_ssl_ca_certs: Path | None = None
    # a prefix of topic names and Redis keys: tenants or test runs share one broker and Redis
    topic_prefix: str = ""

    @property
    def redis_dsn(self) -> str:
        if self.redis_url is not None:
            return self.redis_url.get_secret_value()
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def keras_home(self) -> Path:
        """Where inaSpeechSegmenter's Keras weights are provisioned (never downloaded)."""
        return self.home / "keras"


@functools.cache
def get_settings() -> Settings:
    """The runtime's settings, built once per process: for entry points (commands) only."""
    return Settings()
