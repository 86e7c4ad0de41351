"""Enrolment from recordings of an agent alone: the front end's speech, then a voiceprint.

``callroles agents enroll``, the demo and the benchmarks enrol this way; calls teach prints on
their own in :mod:`callroles.agents.enrolment`.
"""

from __future__ import annotations

from pathlib import Path

from callroles.agents.voiceprints import Voiceprint, make_voiceprint, speech_partials
from callroles.base.errors import InputError
from callroles.call.pipeline import Models, front_end
from callroles.frontend.decode import decode


def enrol(models: Models, agent_id: str, files: list[Path], tenant: str = "") -> Voiceprint:
    """The voiceprint of recordings of an agent alone: the front end's speech segments of each
    file, their partials, then :func:`make_voiceprint` (which refuses no speech, two voices).
    ``models`` may be loaded without frame models (``Models(settings, frame_models=False)``):
    ina's speech is enough here, and faster."""
    partials = []
    for path in files:
        if not Path(path).is_file():
            raise InputError(f"no such recording: {path}", code="input_missing")
        audio = decode(path, models.limits)
        front = front_end(audio, models, layout="mono", n_speakers=1)
        spans = [(s.start, s.end) for s in front.segmentation.speech]
        partials.append(speech_partials(audio, spans, models.encoder))
    return make_voiceprint(agent_id, partials, [Path(p).name for p in files], tenant)
