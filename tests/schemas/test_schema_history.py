"""Every published version of each v1 schema, read from git, checked as a schema registry would
(full transitive compatibility, docs/events.md).

- Forward: today's example events validate against every open version (top level not
  ``additionalProperties: false``) from the first one onward, so a consumer holding any of them
  reads today's events.
- Backward: every example event ever published (the examples folder at each commit) validates
  against today's schema.
- The closed versions (before the open policy, and one closed again after it) that today's
  events break are named in :data:`CLOSED_BREAKS`, with why; the test fails when another version
  breaks, and when a listed one stops breaking (the list says exactly what is true).

The files lived at ``schemas/*.json`` and moved to ``schemas/callroles/schemas/*.json``: commits
touching either path count, and a version is one content (blob), named by the first commit that
has it. The working tree's file is the last version when it is not committed yet.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from callroles import schemas
from tests.support.tree import ROOT

OLD, NEW = "schemas", "schemas/callroles/schemas"
EXAMPLES = (f"{OLD}/examples", f"{NEW}/examples")

#: (kind, first commit of the version) -> why today's examples do not validate against it.
#: docs/events.md ("Versions published before the policy") says the same to consumers.
CLOSED_BREAKS: dict[tuple[str, str], str] = {
    ("call_finished", "21a6405"): "closed; no reprocess",
    ("call_finished", "a1d7547"): "closed; no reprocess",
    ("call_finished", "2a67a50"): "closed; no correction",
    ("call_result", "21a6405"): "closed; no flags, role_source, voiceprint_similarity, "
    "announcement_s, enrolment, replay, replayed_at; separation_strategy without voiceprint",
    ("call_result", "2a67a50"): "closed; no flags, role_source, voiceprint_similarity, "
    "announcement_s, enrolment; separation_strategy without voiceprint",
    ("call_result", "b06abb2"): "closed; no flags, announcement_s, enrolment; role_source "
    "without channel; separation_strategy without voiceprint",
    ("call_result", "01f4d69"): "closed; no announcement_s, enrolment; role_source without "
    "channel; separation_strategy without voiceprint",
    ("call_result", "2ed4d31"): "closed; no announcement_s; no voiceprint separation",
    ("call_result", "80985cf"): "closed; separation_strategy without voiceprint",
    ("call_result", "3348693"): "closed; no revision, enrolment.calls",
    # a branch begun before the open policy merged its closed file after it; 2ecda8f opened it
    # again the same morning, and no CI run landed in between
    ("call_result", "bdb37b2"): "closed again; no overlap_method",
    ("call_error", "21a6405"): "closed stage list without segment",
}


@dataclass(frozen=True)
class Version:
    kind: str
    commit: str  # short sha of the first commit with this content, or "working tree"
    doc: dict[str, Any]

    @property
    def open(self) -> bool:
        return self.doc.get("additionalProperties") is not False


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise LookupError(out.stderr.strip())
    return out.stdout


@pytest.fixture(scope="module", autouse=True)
def _full_history() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (a source distribution): no history to walk")
    if _git("rev-parse", "--is-shallow-repository").strip() == "true":
        # a shallow clone (CI may make one) holds no history: nothing to compare against
        pytest.skip("shallow clone: the schema history needs git fetch --unshallow")


def _commits(*paths: str) -> list[str]:
    """Commits of HEAD's history touching any of ``paths``, oldest first."""
    return _git("log", "--reverse", "--format=%H", "--", *paths).split()


@cache
def versions(kind: str) -> tuple[Version, ...]:
    """Each distinct content of ``kind``'s v1 schema, in the order it was published."""
    name = f"{kind}.v1.json"
    seen: set[str] = set()
    found = []
    for commit in _commits(f"{OLD}/{name}", f"{NEW}/{name}"):
        for folder in (OLD, NEW):
            try:
                blob = _git("rev-parse", f"{commit}:{folder}/{name}").strip()
            except LookupError:  # not at this path in this commit
                continue
            if blob not in seen:
                seen.add(blob)
                found.append(Version(kind, commit[:7], json.loads(_git("show", blob))))
    today = (ROOT / NEW / name).read_text("utf-8")
    if _hash(today) not in seen:
        found.append(Version(kind, "working tree", json.loads(today)))
    return tuple(found)


def _hash(text: str) -> str:
    out = subprocess.run(
        ["git", "hash-object", "--stdin"], cwd=ROOT, input=text, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return out.stdout.strip()


def todays_examples(kind: str) -> dict[str, dict[str, Any]]:
    folder = ROOT / NEW / "examples"
    return {p.name: json.loads(p.read_text("utf-8")) for p in sorted(folder.glob(f"{kind}.*json"))}


def published_examples(kind: str) -> dict[str, dict[str, Any]]:
    """Every example of ``kind`` any commit held, by ``<commit>:<file>`` (one per content)."""
    seen: set[str] = set()
    found = {}
    for commit in _commits(*EXAMPLES):
        for folder in EXAMPLES:
            try:
                listing = _git("ls-tree", commit, f"{folder}/").splitlines()
            except LookupError:
                continue
            for line in listing:
                meta, path = line.split("\t")
                blob = meta.split()[2]
                if path.rsplit("/", 1)[-1].startswith(f"{kind}.") and blob not in seen:
                    seen.add(blob)
                    found[f"{commit[:7]}:{path}"] = json.loads(_git("show", blob))
    return found


def _problems(doc: dict[str, Any], events: dict[str, dict[str, Any]]) -> list[str]:
    validator = Draft202012Validator(doc)
    return [
        f"{name}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:120]}"
        for name, event in events.items()
        for e in validator.iter_errors(event)
    ]


def test_the_history_is_there() -> None:
    """Guards the walk itself: the versions and moves this file's list is about are found."""
    assert [v.commit for v in versions("call_finished")][:3] == ["21a6405", "a1d7547", "2a67a50"]
    assert len(versions("call_result")) >= 8
    assert any(k.startswith("21a6405:schemas/examples/") for k in published_examples("call_error"))
    assert "8412898" in {c[:7] for c in _commits(*EXAMPLES)}  # the move is followed


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_todays_events_validate_against_every_open_version(kind: str) -> None:
    events = todays_examples(kind)
    assert len(events) >= 2
    chain = versions(kind)
    first_open = next(i for i, v in enumerate(chain) if v.open)
    assert chain[-1].open, "today's published schema must stay open (docs/events.md)"
    broken = {v.commit: _problems(v.doc, events) for v in chain[first_open:] if v.open}
    assert {c: p for c, p in broken.items() if p} == {}


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_closed_versions_that_break_todays_events_are_exactly_the_listed_ones(kind: str) -> None:
    events = todays_examples(kind)
    chain = versions(kind)
    first_open = next(i for i, v in enumerate(chain) if v.open)
    closed = [*chain[:first_open], *(v for v in chain[first_open:] if not v.open)]
    broken = {v.commit: _problems(v.doc, events) for v in closed}
    listed = {commit for k, commit in CLOSED_BREAKS if k == kind}
    failing = {c for c, p in broken.items() if p}
    details = "\n".join(f"{c}: {p[:6]}" for c, p in broken.items() if c in failing - listed)
    assert failing - listed == set(), f"versions that now break today's events:\n{details}"
    assert listed - failing == set(), f"listed in CLOSED_BREAKS but not breaking: {listed}"


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_every_published_example_validates_against_todays_schema(kind: str) -> None:
    old = published_examples(kind)
    assert old, f"no published example of {kind} found"
    assert _problems(schemas.schema(kind), old) == []


def _paths(node: dict[str, Any], defs: dict[str, Any], at: str = "") -> set[str]:
    """Every property path a schema names (``speakers[].role_source``, ``call.music_s``)."""
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    out: set[str] = set()
    for name, sub in node.get("properties", {}).items():
        here = f"{at}.{name}" if at else name
        out.add(here)
        out |= _paths(sub, defs, here)
    if isinstance(node.get("items"), dict):
        out |= _paths(node["items"], defs, f"{at}[]")
    return out


def _event_paths(value: Any, at: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for name, sub in value.items():
            here = f"{at}.{name}" if at else name
            out |= {here} | _event_paths(sub, here)
    elif isinstance(value, list):
        for item in value:
            out |= _event_paths(item, f"{at}[]")
    return out


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_todays_examples_use_every_field(kind: str) -> None:
    """A field no example carries would never be checked against the older versions above."""
    doc = schemas.schema(kind)
    named = _paths(doc, doc.get("$defs", {}))
    used = set().union(*(_event_paths(e) for e in todays_examples(kind).values()))
    assert named - used == set(), f"add an example of {kind} that carries {sorted(named - used)}"
