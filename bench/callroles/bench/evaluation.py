"""``callroles eval diarization DIR``: the front end against human or reference annotation.

For every recording in DIR with a reference beside it, either ``<stem>.rttm`` (speaker turns;
ids may start with ``agent_`` / ``customer_``) or inaSpeechSegmenter's own
``<stem>-smn-gender.csv`` (speech by gender, music, noise, silence), it runs the front end and
prints, per file and in total: DER and JER (pyannote.metrics, no collar, and DER with 0.25 s
and 0.5 s collars), the number of speakers found against the reference's, each reference
speaker's talk time error (through DER's optimal speaker mapping), seconds of reference
non-speech (music and noise where the reference names them) counted as talk, speech/non-speech
frame agreement, the talk found beyond the reference's (its speech plus the overlap it marks)
and, where a generated call lists its backchannels, how many went to the right speaker.
With ``--out`` it writes the figures as JSON. Nothing is tuned here: it only measures.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyannote.core import Annotation, Segment, Timeline
from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

from callroles.call.pipeline import Models, front_end, run_call
from callroles.export.calibrate import PairScore, margin_of, true_agent, voiceprint_margin

AUDIO = (".wav", ".gsm", ".mp3", ".flac", ".ogg")
FRAME = 0.01  # seconds per frame for agreement and overlaps
INA_SPEECH = ("male", "female")
INA_BACKGROUND = ("music", "noise")
SIM_BACKGROUND = ("music", "noise", "announcement")  # a recorded prompt is nobody's talk


@dataclass
class Reference:
    """Speaker turns and, when the reference names it, background (start, end, kind)."""

    speech: Annotation
    background: list[tuple[float, float, str]] = field(default_factory=list)
    kind: str = "rttm"
    backchannels: list[tuple[float, float, str]] = field(default_factory=list)


def read_rttm(path: Path) -> Annotation:
    """The ``SPEAKER`` turns of an RTTM file (pyannote.database's reader), all URIs as one."""
    out = Annotation(uri=path.stem)
    for uri_turns in load_rttm(str(path)).values():
        for segment, track, who in uri_turns.itertracks(yield_label=True):
            out[segment, track] = who
    return out


def der(reference: Annotation, hypothesis: Annotation, collar: float = 0.0) -> float:
    """Diarization error rate, pyannote.metrics' (no overlap skipped); 0 without reference
    speech and hypothesis."""
    if not reference.labels() and not hypothesis.labels():
        return 0.0
    return float(DiarizationErrorRate(collar=collar, skip_overlap=False)(reference, hypothesis))


@dataclass
class FileFigures:
    file: str
    reference: str
    duration_s: float
    der: float | None  # None: the reference has no speech (DER is undefined)
    der_collar_0_5: float | None
    der_collar_0_25: float | None
    jer: float | None
    speakers_reference: int
    speakers_found: int
    talk_time_error: dict[str, float]  # reference speaker -> relative error
    nonspeech_as_talk_s: float
    background_as_talk_s: float
    background_as_talk_by_kind: dict[str, float]
    background_s: dict[str, float]  # seconds of each background kind in the reference
    speech_agreement: float
    der_parts_s: dict[str, float]
    # the 0.25 s collar's scored speech and errors, so that sets pool as pyannote pools them
    collar_0_25_s: dict[str, float] = field(default_factory=dict)
    # summed talk found minus the reference's summed talk (its speech plus the overlap it marks)
    talk_beyond_reference_s: float = 0.0
    backchannels: int = 0  # listed in the truth file (generated quick-turn calls)
    backchannels_right: int = 0  # at least half of it the right speaker's talk
    third_voice: bool = False  # the front end heard a third voice inside one speaker


def read_reference(audio: Path, references: Path | None = None) -> Reference | None:
    """The reference annotation of ``audio`` (beside it, or in ``references``), or None."""
    rttm = (references or audio.parent) / f"{audio.stem}.rttm"
    if rttm.is_file():
        truth = rttm.with_suffix(".json")
        return Reference(read_rttm(rttm), _truth_background(truth), "rttm", _backchannels(truth))
    ina = audio.with_name(f"{audio.stem}-smn-gender.csv")
    if ina.is_file():
        with ina.open(newline="") as fh:
            table = csv.DictReader(fh, delimiter="\t")
            rows = [(r["labels"], float(r["start"]), float(r["stop"])) for r in table]
        speech = Annotation(uri=audio.stem)
        for i, (lab, a, b) in enumerate(r for r in rows if r[0] in INA_SPEECH):
            speech[Segment(a, b), i] = lab
        back = [(a, b, lab) for lab, a, b in rows if lab in INA_BACKGROUND]
        return Reference(speech, back, "ina")
    return None


def _truth_background(truth: Path) -> list[tuple[float, float, str]]:
    """Music, noise and announcements from a generated call's truth JSON (none if absent)."""
    if not truth.is_file():
        return []
    events = json.loads(truth.read_text()).get("events", [])
    return [(e["start"], e["end"], e["kind"]) for e in events if e["kind"] in SIM_BACKGROUND]


def _backchannels(truth: Path) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of the backchannels a generated call lists (none if absent)."""
    if not truth.is_file():
        return []
    listed = json.loads(truth.read_text()).get("backchannels", [])
    return [(b["start"], b["end"], b["speaker"]) for b in listed]


def _backchannels_right(ref: Reference, hypothesis: Annotation, mapping: dict[Any, Any]) -> int:
    """How many backchannels are, for at least half their length, talk of the hypothesis
    speaker that DER's optimal mapping makes their speaker."""
    right = 0
    for a, b, who in ref.backchannels:
        span = Segment(a, b)
        mine = [h for h, w in mapping.items() if w == who]
        heard = sum(
            (seg & span).duration
            for h in mine
            for seg in hypothesis.label_timeline(h).support()
            if seg.intersects(span)
        )
        right += heard >= 0.5 * span.duration
    return right


def _kind_masks(background: list[tuple[float, float, str]], n: int) -> dict[str, np.ndarray]:
    """One frame mask per background kind, each frame in one kind only: an announcement over
    hold music is an announcement, music over noise is music."""
    order = ("announcement", "music", "noise")
    kinds = sorted({k for _, _, k in background}, key=lambda k: order.index(k) if k in order else 9)
    taken = np.zeros(n, bool)
    out: dict[str, np.ndarray] = {}
    for kind in kinds:
        m = _mask([(a, b) for a, b, k in background if k == kind], n) & ~taken
        taken |= m
        out[kind] = m
    return out


def _mask(spans: list[tuple[float, float]], n: int) -> np.ndarray:
    out = np.zeros(n, bool)
    for a, b in spans:
        out[int(round(a / FRAME)) : int(round(b / FRAME))] = True
    return out


def score_file(audio: Path, ref: Reference, front: Any) -> FileFigures:
    """Figures of one front-end result (``FrontEndResult``) against its reference."""
    reference, hypothesis = ref.speech, front.segmentation.to_annotation(audio.stem)
    duration = float(front.facts.duration_s)
    uem = Timeline([Segment(0.0, duration)])
    has_speech = bool(reference.labels())
    der_metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    parts = der_metric(reference, hypothesis, detailed=True, uem=uem)
    wide = DiarizationErrorRate(collar=0.5, skip_overlap=False)
    der_wide = wide(reference, hypothesis, uem=uem)
    quarter = DiarizationErrorRate(collar=0.25, skip_overlap=False)(
        reference, hypothesis, uem=uem, detailed=True
    )
    jer_metric = JaccardErrorRate(collar=0.0, skip_overlap=False)
    jer = jer_metric(reference, hypothesis, uem=uem) if has_speech else None
    mapping = der_metric.optimal_mapping(reference, hypothesis)  # hypothesis -> reference
    ref_talk: dict[str, float] = {}
    n = int(duration / FRAME) + 2
    for who in reference.labels():
        spans = [(s.start, s.end) for s in reference.label_timeline(who).support()]
        ref_talk[who] = float(_mask(spans, n).sum()) * FRAME
    hyp_talk = {s.speaker: float(s.talk_time_s) for s in front.speakers}
    found: dict[str, float] = {}
    for hyp, who in mapping.items():
        found[who] = found.get(who, 0.0) + hyp_talk.get(hyp, 0.0)
    errors = {who: round((found.get(who, 0.0) - t) / t, 4) for who, t in ref_talk.items() if t > 0}
    ref_speech = _mask([(s.start, s.end) for s in reference.itersegments()], n)
    hyp_speech = _mask([(s.start, s.end) for s in hypothesis.itersegments()], n)
    background = _mask([(a, b) for a, b, _ in ref.background], n)
    span = slice(0, int(duration / FRAME))
    kinds = _kind_masks(ref.background, n)
    return FileFigures(
        file=audio.name,
        reference=ref.kind,
        duration_s=round(duration, 2),
        der=round(float(parts["diarization error rate"]), 4) if has_speech else None,
        der_collar_0_5=round(float(der_wide), 4) if has_speech else None,
        der_collar_0_25=(
            round(float(quarter["diarization error rate"]), 4) if has_speech else None
        ),
        jer=round(float(jer), 4) if jer is not None else None,
        speakers_reference=len(reference.labels()),
        speakers_found=len({s.speaker for s in front.speakers if s.talk_time_s > 0}),
        talk_time_error=errors,
        nonspeech_as_talk_s=round(float((hyp_speech & ~ref_speech)[span].sum()) * FRAME, 2),
        background_as_talk_s=round(float((hyp_speech & background)[span].sum()) * FRAME, 2),
        background_as_talk_by_kind={
            k: round(float((hyp_speech & m)[span].sum()) * FRAME, 2) for k, m in kinds.items()
        },
        background_s={k: round(float(m[span].sum()) * FRAME, 2) for k, m in kinds.items()},
        speech_agreement=round(float(np.mean((hyp_speech == ref_speech)[span])), 4),
        der_parts_s={
            k: round(float(parts[k]), 2)
            for k in ("total", "missed detection", "false alarm", "confusion")
        },
        collar_0_25_s={
            "total": round(float(quarter["total"]), 3),
            "errors": round(
                float(quarter["missed detection"] + quarter["false alarm"] + quarter["confusion"]),
                3,
            ),
        },
        talk_beyond_reference_s=round(sum(hyp_talk.values()) - sum(ref_talk.values()), 2),
        backchannels=len(ref.backchannels),
        backchannels_right=_backchannels_right(ref, hypothesis, mapping),
        third_voice=bool(front.budget.get("third_voice")),
    )


def score_real(
    folder: Path, models: Any, voiceprints: Any = None, agent_id: str | None = None
) -> list[PairScore]:
    """Real calls with RTTM references whose speaker ids say agent_ / customer_ (evaluation
    only, never fitted on): the model's pair margin, or with ``voiceprints`` and the enrolled
    ``agent_id`` the voiceprint's similarity margin."""
    out = []
    for audio in sorted(Path(folder).glob("Call*.wav")):
        ref = read_rttm(audio.with_suffix(".rttm"))
        agents = [who for who in ref.labels() if who.startswith("agent_")]
        spans = [(s.start, s.end) for who in agents for s in ref.label_timeline(who)]
        event = {"call_id": audio.stem, **({"agent_id": agent_id} if agent_id else {})}
        result = run_call(audio, event, models, voiceprints=voiceprints, learn=False)
        if isinstance(result, dict):
            agent = true_agent(result, spans)
            m = voiceprint_margin(result, agent) if voiceprints else margin_of(result, agent)
            if m is not None:
                out.append(PairScore(audio.stem, m, False, "real"))
    return out


def evaluate_dir(
    folder: Path, models: Models, references: Path | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Every annotated recording of ``folder`` (references beside them, or in
    ``references``; at most ``limit`` files): per-file figures and totals."""
    rows = []
    audios = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO)
    for audio in audios[:limit]:
        ref = read_reference(audio, references)
        if ref is None:
            continue
        front = front_end(audio, models)
        rows.append(score_file(audio, ref, front))
    speech = sum(r.der_parts_s["total"] for r in rows)
    errors = sum(
        r.der_parts_s["missed detection"]
        + r.der_parts_s["false alarm"]
        + r.der_parts_s["confusion"]
        for r in rows
    )
    talk = [abs(e) for r in rows for e in r.talk_time_error.values()]
    kinds = sorted({k for r in rows for k in r.background_s})
    by_kind = {
        k: {
            "reference_s": round(sum(r.background_s.get(k, 0.0) for r in rows), 2),
            "as_talk_s": round(sum(r.background_as_talk_by_kind.get(k, 0.0) for r in rows), 2),
        }
        for k in kinds
    }
    return {
        "folder": str(folder),
        "files": [asdict(r) for r in rows],
        "total": {
            "files": len(rows),
            "der": round(errors / speech, 4) if speech else None,
            "speaker_count_right": sum(r.speakers_found == r.speakers_reference for r in rows),
            "talk_time_within_5pct": f"{sum(e <= 0.05 for e in talk)}/{len(talk)}",
            "talk_time_error_median": round(float(np.median(talk)), 4) if talk else None,
            "nonspeech_as_talk_s": round(sum(r.nonspeech_as_talk_s for r in rows), 2),
            "background_as_talk_s": round(sum(r.background_as_talk_s for r in rows), 2),
            "background_by_kind": by_kind,
            "der_collar_0_25": _pooled(rows),
            "calls_talk_beyond_reference": sum(r.talk_beyond_reference_s > 0.5 for r in rows),
            "third_voice_flagged": sum(r.third_voice for r in rows),
            "talk_beyond_reference_max_s": max(
                (r.talk_beyond_reference_s for r in rows), default=0.0
            ),
            **(
                {"backchannels_right": f"{sum(r.backchannels_right for r in rows)}/{bc}"}
                if (bc := sum(r.backchannels for r in rows))
                else {}
            ),
        },
    }


def _pooled(rows: list[FileFigures]) -> float | None:
    """DER with a 0.25 s collar over a set: its errors over its scored speech, every file's."""
    speech = sum(r.collar_0_25_s.get("total", 0.0) for r in rows)
    errors = sum(r.collar_0_25_s.get("errors", 0.0) for r in rows)
    return round(errors / speech, 4) if speech else None


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{report['folder']}:"]
    for r in report["files"]:
        talk = ", ".join(f"{k} {v:+.1%}" for k, v in r["talk_time_error"].items())
        lines.append(
            f"  {r['file']:<28} DER {_f(r['der'])} (collars 0.25 / 0.5 s: "
            f"{_f(r['der_collar_0_25'])} / {_f(r['der_collar_0_5'])}) "
            f"JER {_f(r['jer'])}  speakers {r['speakers_found']}/{r['speakers_reference']}  "
            f"non-speech as talk {r['nonspeech_as_talk_s']:.1f} s (music/noise/announcements "
            f"{r['background_as_talk_s']:.1f} s)  speech agreement {r['speech_agreement']:.3f}"
            f"\n      talk time: {talk}"
        )
    t = report["total"]
    lines.append(
        f"  total: {t['files']} files, DER {t['der']}, speaker count right "
        f"{t['speaker_count_right']}/{t['files']}, talk time within 5% {t['talk_time_within_5pct']}"
        f" (median error {t['talk_time_error_median']}), non-speech as talk "
        f"{t['nonspeech_as_talk_s']} s, of it music/noise/announcements "
        f"{t['background_as_talk_s']} s; DER with a 0.25 s collar {t['der_collar_0_25']}; "
        f"talk beyond the reference's (over 0.5 s) in {t['calls_talk_beyond_reference']} calls, "
        f"at most {t['talk_beyond_reference_max_s']} s; third voice flagged in "
        f"{t['third_voice_flagged']} calls"
        + (f"; backchannels right {t['backchannels_right']}" if "backchannels_right" in t else "")
    )
    for kind, v in t.get("background_by_kind", {}).items():
        lines.append(f"    {kind}: {v['as_talk_s']} of {v['reference_s']} s counted as talk")
    return "\n".join(lines)


def register(sub: Any) -> None:
    e = sub.add_parser("eval", help="evaluate against reference annotation")
    esub = e.add_subparsers(dest="what", metavar="WHAT", required=True)
    d = esub.add_parser("diarization", help="the front end against RTTM or ina CSV references")
    d.add_argument("folders", nargs="+", type=Path, help="folders of recordings + references")
    d.add_argument("--out", type=Path, help="write the figures as JSON")
    d.add_argument("--references", type=Path, help="where the RTTMs are, if not beside the audio")
    d.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)

    frontend = Models(get_settings())
    reports = []
    for folder in args.folders:
        if not folder.is_dir():
            print(f"no folder {folder} (the evaluation data is not here)", file=sys.stderr)
            return 2
        reports.append(evaluate_dir(folder, frontend, args.references))
        print(format_report(reports[-1]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(reports, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0
