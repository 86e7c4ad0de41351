"""Turn new recordings in a folder (an Asterisk-style monitor directory) into events.

Polling, not inotify: it works on network mounts and in containers alike. A file is taken once
its size and mtime stayed the same across two scans (the PBX has finished writing it). Event
fields come from a sidecar ``<recording>.json`` / ``<stem>.json`` and/or from the file name via
a regular expression with named groups (``call_id``, ``agent_id``, ``language``, ``tenant``,
``layout``, ``agent_gender``; other groups go to ``metadata``). Files already submitted are
remembered in a state file, so a restart does not resubmit (a resubmission would be
deduplicated by call_id anyway).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callroles.base.errors import CallrolesError

from .submit import EVENT_FIELDS, event_for_file, sidecar_of

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".gsm", ".mp3", ".flac", ".ogg", ".opus", ".au", ".sln", ".ulaw", ".alaw")
#: Asterisk MixMonitor's usual name: <prefix>-<exten>-<caller>-<YYYYMMDD>-<HHMMSS>-<uniqueid>.wav
ASTERISK_PATTERN = (
    r"^(?P<direction>[a-z]+)-(?P<agent_id>[^-]+)-(?P<caller>[^-]+)-(?P<date>\d{8})-"
    r"(?P<time>\d{6})-(?P<call_id>[0-9A-Za-z.]+)$"
)


def fields_from_name(path: Path, pattern: re.Pattern[str] | None) -> dict[str, Any]:
    """Event fields from the file's stem; empty when no pattern or no match."""
    if pattern is None:
        return {}
    match = pattern.match(path.stem)
    if not match:
        return {}
    groups = {k: v for k, v in match.groupdict().items() if v}
    fields: dict[str, Any] = {k: groups.pop(k) for k in list(groups) if k in EVENT_FIELDS}
    if groups:
        fields["metadata"] = groups
    return fields


@dataclass
class FolderWatcher:
    """Scans ``folder``; calls ``emit(event)`` for each new, finished recording."""

    folder: Path
    emit: Callable[[dict[str, Any]], None]
    pattern: re.Pattern[str] | None = None
    require_sidecar: bool = False
    state_file: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    _sizes: dict[Path, tuple[int, float]] = field(default_factory=dict)
    _done: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if self.state_file is None:
            self.state_file = self.folder / ".callroles-watch.json"
        if self.state_file.is_file():
            try:
                self._done = set(json.loads(self.state_file.read_text("utf-8")))
            except (OSError, ValueError):
                log.warning("ignoring unreadable watch state %s", self.state_file)

    def _save(self) -> None:
        assert self.state_file is not None
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(self._done)), "utf-8")
        tmp.replace(self.state_file)

    def scan(self) -> list[dict[str, Any]]:
        """One pass: returns (and emits) the events of recordings that are now complete."""
        emitted: list[dict[str, Any]] = []
        for path in sorted(self.folder.rglob("*")):
            if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
                continue
            key = str(path.resolve())
            if key in self._done:
                continue
            stat = path.stat()
            now = (stat.st_size, stat.st_mtime)
            before = self._sizes.get(path)
            self._sizes[path] = now
            if before != now or stat.st_size == 0:
                continue  # new or still growing: look again next scan
            if self.require_sidecar and sidecar_of(path) is None:
                continue
            overrides = {**fields_from_name(path, self.pattern), **self.overrides}
            try:
                event = event_for_file(path, overrides)
            except CallrolesError as exc:
                log.warning("skipping %s: [%s] %s", path, exc.code, exc)
                self._done.add(key)
                continue
            self.emit(event)
            emitted.append(event)
            self._done.add(key)
            self._sizes.pop(path, None)
        if emitted:
            self._save()
        return emitted
