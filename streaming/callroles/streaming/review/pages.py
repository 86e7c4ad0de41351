"""The review page's HTML shell, its login form and the list of calls. Every value from a
result or the query is escaped (``html.escape``); phone numbers are hashed as in results."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from callroles.streaming.settings import StreamingSettings

from ..privacy import scrub
from .assets import CSS, JS
from .listing import Filters, Page

FLAGS = {
    "no_speech": "nobody talks",
    "one_voice": "one speaker has all the talk",
    "overlap_ignored": "the activity model heard implausibly much overlap; it was ignored",
    "talk_exceeds_duration": "the summed talk is longer than the call",
    "speaker_count_uncertain": "one voice more or fewer may be right",
    "third_voice": "one speaker's talk holds a second voice (a transfer, a supervisor)",
    "roles_by_pair_rule": "the model gave both speakers the same role; the two-party rule chose",
    "model_disagrees_with_voiceprint": "the agent's voiceprint names another speaker",
    "model_disagrees_with_channel": "the stereo layout names another agent than the model",
    "roles_uncertain": "a role was decided with confidence under 0.9",
}
SOURCES = ("model", "voiceprint", "channel", "correction")


def shown(value: Any, settings: StreamingSettings) -> str:
    """``value`` as the page may show it: digit runs of 6+ hashed unless the deployment keeps
    recording URIs in full (``result_recording_uri=full``), then escaped."""
    text = value if isinstance(value, str) else str(value)
    return escape(text if settings.result_recording_uri == "full" else str(scrub(text)))


def layout(title: str, body: str) -> str:
    """A whole page: the inline stylesheet, ``body``, the inline script."""
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}"
        f"<script>{JS}</script></body></html>"
    )


def login_page(message: str = "", next_url: str = "/review") -> str:
    """The form that takes the API token once."""
    note = f"<p class='msg error' id='login-error'>{escape(message)}</p>" if message else ""
    return layout("callroles review: log in", (
        "<h1>callroles review</h1>" + note +
        "<form method='post' action='/review/login'>"
        f"<input type='hidden' name='next' value='{escape(next_url)}'>"
        "<label>API token <input type='password' name='token' id='token' autofocus></label> "
        "<button type='submit' id='login'>Log in</button></form>"
    ))  # fmt: skip


def explain_flag(flag: str) -> str:
    """A flag in words (an unknown one is a doubt of an unknown kind)."""
    return FLAGS.get(flag, "a doubt this page does not know yet")


def talk_bar(r: dict[str, Any]) -> str:
    """Agent, customer, silence, music and announcement as shares of the call."""
    total = max(r["duration_s"], 1e-6)
    parts = [("agent", r["agent_s"]), ("customer", r["customer_s"]), ("silence", r["silence_s"]),
             ("music", r["music_s"]), ("announcement", r["announcement_s"])]  # fmt: skip
    spans = "".join(
        f"<span class='{k}' style='width:{100 * min(v, total) / total:.2f}%' "
        f"title='{k} {v:.1f} s'></span>"
        for k, v in parts
        if v > 0
    )
    return f"<div class='bar'>{spans}</div>"


def _filters_form(f: Filters) -> str:
    flags = "".join(
        f"<option value='{k}'{' selected' if f.flag == k else ''}>{k}</option>" for k in FLAGS
    )
    sources = "".join(
        f"<option value='{k}'{' selected' if f.source == k else ''}>{k}</option>" for k in SOURCES
    )
    below = "" if f.below is None else f"{f.below:g}"
    day = "" if f.day is None else f.day.isoformat()
    return (
        "<form class='filters' method='get' action='/review' id='filters'>"
        f"<label>flag <select name='flag'><option value=''>any</option>{flags}</select></label>"
        f"<label>role source <select name='source'><option value=''>any</option>{sources}"
        "</select></label>"
        f"<label>confidence below <input name='below' size='4' value='{escape(below)}'></label>"
        f"<label>agent <input name='agent' size='8' value='{escape(f.agent)}'></label>"
        f"<label>date <input type='date' name='date' value='{escape(day)}'></label>"
        "<button type='submit'>Filter</button> <a href='/review'>clear</a></form>"
    )


def list_page(page: Page, f: Filters, settings: StreamingSettings, message: str = "") -> str:
    """The calls to review, newest first, with the filters and the next page's link."""
    rows = []
    for r in page.rows:
        flags = "".join(
            f"<span class='flag' title='{escape(explain_flag(x))}'>{escape(x)}</span>"
            for x in r["flags"]
        )
        conf = "" if r["confidence"] is None else f"{r['confidence']:.2f}"
        rows.append(
            f"<tr class='call' data-call-id='{escape(r['call_id'])}'>"
            f"<td><a href='/review/calls/{quote(r['call_id'], safe='')}'>"
            f"{escape(r['call_id'])}</a></td><td>{escape(str(r['produced_at']))}</td>"
            f"<td>{shown(r['agent_id'] or '', settings)}</td>"
            f"<td>{r['agent_s']:.1f} s</td><td>{r['customer_s']:.1f} s</td>"
            f"<td>{talk_bar(r)}</td><td>{conf}</td><td>{escape(', '.join(r['sources']))}</td>"
            f"<td>{flags}</td><td>{r['revision']}</td></tr>"
        )
    more = ""
    if page.next_before is not None:
        query = {k: v for k, v in (("flag", f.flag), ("source", f.source), ("agent", f.agent),
                 ("below", "" if f.below is None else f"{f.below:g}"),
                 ("date", "" if f.day is None else f.day.isoformat())) if v}  # fmt: skip
        query["before"] = f"{page.next_before:.3f}"
        more = f"<p><a id='older' href='/review?{escape(urlencode(query))}'>older calls</a></p>"
    note = f"<p class='msg error'>{escape(message)}</p>" if message else ""
    empty = "" if rows else "<p id='empty' class='muted'>No call matches.</p>"
    return layout("callroles review", (
        "<h1>Calls to review</h1>" + note + _filters_form(f) +
        "<table id='calls'><thead><tr><th>call</th><th>produced</th><th>agent id</th>"
        "<th>agent talk</th><th>customer talk</th><th>talk / silence / music</th>"
        "<th>lowest confidence</th><th>role source</th><th>flags</th><th>revision</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>{empty}{more}"
    ))  # fmt: skip
