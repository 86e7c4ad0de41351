"""Calls to review: the ledger's newest-first index read a chunk at a time, each call's latest
result filtered by what the QA person asked (flag, role source, confidence below, agent id,
day), and a page cut with a cursor (the produced time of its last row), so a page costs a few
round trips to Redis whatever the index holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..ledger import Ledger

PAGE_SIZE = 50
#: at most this many calls are read for one page; a sparse filter continues with "older"
MAX_SCAN = 5000
CHUNK = 250


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; empty fields filter nothing."""

    flag: str = ""
    source: str = ""
    below: float | None = None
    agent: str = ""
    day: date | None = None
    before: float | None = None  # cursor: produced ms, exclusive

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Filters:
        """From the list's query string; raises ValueError for a value it cannot read."""
        below = query.get("below", "").strip()
        day = query.get("date", "").strip()
        before = query.get("before", "").strip()
        return cls(
            flag=query.get("flag", "").strip(),
            source=query.get("source", "").strip(),
            below=float(below) if below else None,
            agent=query.get("agent", "").strip(),
            day=date.fromisoformat(day) if day else None,
            before=float(before) if before else None,
        )

    def keeps(self, result: Mapping[str, Any]) -> bool:
        """True when ``result`` passes every filter."""
        speakers = result.get("speakers") or []
        if self.flag and self.flag not in (result.get("flags") or []):
            return False
        if self.source and self.source not in {s.get("role_source", "model") for s in speakers}:
            return False
        if self.below is not None and not any(s["confidence"] < self.below for s in speakers):
            return False
        return not (self.agent and result.get("agent_id") != self.agent)

    def bounds(self) -> tuple[float, float]:
        """(newest exclusive, oldest inclusive) produced ms the page may come from."""
        newest, oldest = math.inf, -math.inf
        if self.day is not None:
            start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
            oldest = start.timestamp() * 1000
            newest = (start + timedelta(days=1)).timestamp() * 1000
        if self.before is not None:
            newest = min(newest, self.before)
        return newest, oldest


@dataclass
class Page:
    """One page of rows, and the cursor of the next (None at the end)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    next_before: float | None = None
    scanned: int = 0


def row(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the list shows of one result."""
    call = result.get("call") or {}
    speakers = result.get("speakers") or []
    return {
        "call_id": result["call_id"],
        "produced_at": result.get("produced_at", ""),
        "agent_id": result.get("agent_id"),
        "duration_s": float(result.get("duration_s") or 0.0),
        "agent_s": float(call.get("agent_talk_time_s") or 0.0),
        "customer_s": float(call.get("customer_talk_time_s") or 0.0),
        "silence_s": float(call.get("silence_s") or 0.0),
        "music_s": float(call.get("music_s") or 0.0),
        "announcement_s": float(call.get("announcement_s") or 0.0),
        "flags": list(result.get("flags") or []),
        "sources": sorted({str(s.get("role_source", "model")) for s in speakers}),
        "confidence": min((float(s["confidence"]) for s in speakers), default=None),
        "revision": int(result.get("revision") or 0),
    }


async def page_of(ledger: Ledger, filters: Filters, size: int = PAGE_SIZE) -> Page:
    """The page ``filters`` ask for, newest first."""
    newest, oldest = filters.bounds()
    page = Page()
    while page.scanned < MAX_SCAN:
        narrowed = filters.flag or filters.source or filters.below is not None or filters.agent
        want = CHUNK if narrowed else size + 1
        chunk = await ledger.recent(newest, oldest, want)
        if not chunk:
            return page
        results = await ledger.latest_results([call_id for call_id, _ in chunk])
        for (_call_id, ms), result in zip(chunk, results, strict=True):
            page.scanned += 1
            newest = ms
            if result is None or not filters.keeps(result):
                continue
            if len(page.rows) == size:
                return page  # one more matches: there is a next page
            page.rows.append(row(result))
            page.next_before = ms if len(page.rows) == size else None
        if len(chunk) < want:
            page.next_before = None  # the index ends here
            return page
    page.next_before = newest  # scanned enough: the next page goes on from here
    return page
