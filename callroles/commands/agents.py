"""``callroles agents ...``: agents' voiceprints, enrolled from recordings, learnt from an
archive (``learn`` with agent ids, ``discover`` without), listed, renamed and forgotten; and a
person's correction of a published call's roles (``correct``, through the workers).

Handlers import what they run inside themselves, so that ``callroles --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    a = sub.add_parser("agents", help="agents' voiceprints: enroll, learn, discover, list, forget")
    asub = a.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = asub.add_parser("enroll", help="learn an agent's voice from recordings of them alone")
    e.add_argument("--agent-id", required=True)
    e.add_argument("--tenant", default="", help="the tenant the agent belongs to")
    e.add_argument("files", nargs="+", type=Path, help="recordings of the agent alone")
    e.set_defaults(func=_enroll)
    le = asub.add_parser(
        "learn", help="every agent of an archive, from the voice that recurs in their calls"
    )
    le.add_argument("archive", type=Path, help="the folder the table's file column is under")
    le.add_argument("--calls", required=True, help="call table: CSV, sqlite file or URL")
    le.add_argument("--table", default="calls", help="the table's name in a database")
    le.add_argument("--per-agent", type=int, default=8, help="calls used per agent (default 8)")
    le.add_argument("--tenant", default="")
    le.set_defaults(func=_learn)
    d = asub.add_parser("discover", help="agents of an archive without agent ids")
    d.add_argument("archive", type=Path, help="a folder of recordings")
    d.add_argument("--calls", type=int, default=200, help="recordings used, spread (200)")
    d.add_argument("--min-calls", type=int, default=3, help="calls a voice must recur in (3)")
    d.add_argument("--tenant", default="")
    d.set_defaults(func=_discover)
    ls = asub.add_parser("list", help="enrolled agents (no vectors printed)")
    ls.add_argument("--tenant", default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    r = asub.add_parser("rename", help="give an agent (a discovered voice) another id")
    r.add_argument("agent_id")
    r.add_argument("new_id")
    r.add_argument("--tenant", default="")
    r.set_defaults(func=_rename)
    c = asub.add_parser(
        "correct", help="say which speaker of a published call is the agent (or --undo)"
    )
    c.add_argument("call_id")
    c.add_argument("--agent-speaker", help="the speaker (S0, S1...) who is the agent")
    c.add_argument("--undo", action="store_true", help="withdraw the call's correction")
    c.add_argument("--by", default=None, help="who corrects (kept in the event)")
    c.set_defaults(func=_correct)
    f = asub.add_parser("forget", help="remove an agent's voiceprint and its evidence")
    f.add_argument("agent_id")
    f.add_argument("--tenant", default="")
    f.set_defaults(func=_forget)


def _progress(total: int) -> Any:
    """One line that counts the calls done, on a terminal; nothing when output is a file."""
    done = [0]

    def show(what: str) -> None:
        done[0] += 1
        if sys.stderr.isatty():
            print(f"\r  [{done[0]}/{total}] {what[:60]:<60}", end="", file=sys.stderr, flush=True)

    return show


def _enroll(args: argparse.Namespace) -> int:
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.enrol import enrol  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import Models  # noqa: PLC0415 (CLI handler: loaded on use)

    settings = get_settings()
    models = Models(settings, frame_models=False)  # speech spans only: no talk-time model
    print_ = enrol(models, args.agent_id, list(args.files), args.tenant)
    open_store(settings).put(print_)
    print(
        f"enrolled agent {print_.agent_id}{f' ({print_.tenant})' if print_.tenant else ''}: "
        f"{print_.speech_s:.1f} s of speech, {print_.partials} partials, self-similarity "
        f"{print_.self_similarity:.2f}, embedding {print_.model}"
    )
    return 0


def _learn(args: argparse.Namespace) -> int:
    from callroles.agents.calltable import REQUIRED, read_calls  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.archive import learn_agents  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import Models  # noqa: PLC0415 (CLI handler: loaded on use)

    rows = read_calls(args.calls, args.table, required=REQUIRED)
    agents = {r.agent_id for r in rows}
    total = sum(min(args.per_agent, sum(r.agent_id == a for r in rows)) for a in agents if a)
    settings = get_settings()
    print(f"learning {len(agents)} agent(s) from up to {args.per_agent} calls each ({total})")
    found = learn_agents(
        args.archive, rows, Models(settings), open_store(settings), tenant=args.tenant,
        per_agent=args.per_agent, progress=_progress(total),
    )  # fmt: skip
    print(file=sys.stderr)
    for o in found:
        mark = "learnt" if o.learnt else "not learnt"
        calls = f" from {', '.join(o.taught_by)}" if o.taught_by else ""
        bad = f"; {len(o.unreadable)} call(s) unreadable" if o.unreadable else ""
        print(f"  {o.agent_id or '(no agent_id)'}: {o.calls} calls, {mark}: {o.reason}{calls}{bad}")
    print(f"{sum(o.learnt for o in found)} of {len(found)} agent(s) learnt")
    return 0


def _discover(args: argparse.Namespace) -> int:
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.archive import discover_agents, recordings  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.call.pipeline import Models  # noqa: PLC0415 (CLI handler: loaded on use)

    files = recordings(args.archive)
    settings = get_settings()
    print(f"listening to {min(len(files), args.calls)} of {len(files)} recordings")
    found = discover_agents(
        files, Models(settings), open_store(settings), tenant=args.tenant, most=args.calls,
        min_calls=args.min_calls, progress=_progress(min(len(files), args.calls)),
    )  # fmt: skip
    print(file=sys.stderr)
    for v in found:
        what = f"agent {v.agent_id}{' (new)' if v.new else ''}" if v.agent else "not an agent"
        print(
            f"  a voice in {len(v.calls)} calls: {what} (with another recurring voice in "
            f"{v.partners_recurring:.0%} of them)"
        )
    print(f"{sum(v.agent for v in found)} agent(s); rename with `callroles agents rename ID NEW`")
    return 0


def _list(args: argparse.Namespace) -> int:
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)

    prints = open_store(get_settings()).list(args.tenant)
    rows = [
        {k: v for k, v in p.__dict__.items() if k != "vector"}
        for p in sorted(prints, key=lambda p: (p.tenant, p.agent_id))
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        print(
            f"{r['tenant'] or '-':<10} {r['agent_id']:<16} {r['speech_s']:6.1f} s  "
            f"{r['learnt_from']:<10} enrolled {r['enrolled_at']}  "
            f"learnt from {r['auto_samples']} call(s), refused {r['refused']}"
            + (f" (last: {r['last_refusal']})" if r["last_refusal"] else "")
        )
    print(f"{len(rows)} agent(s)")
    return 0


def _rename(args: argparse.Namespace) -> int:
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.agents.voiceprints import VoiceprintError  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)

    store = open_store(get_settings())
    old = store.get(args.agent_id, args.tenant)
    if old is None:
        raise VoiceprintError(f"no agent {args.agent_id!r}", code="voiceprint_unknown_agent")
    if store.get(args.new_id, args.tenant) is not None:
        raise VoiceprintError(f"agent {args.new_id!r} exists already", code="voiceprint_exists")
    store.put(dataclasses.replace(old, agent_id=args.new_id))
    store.forget(args.agent_id, args.tenant)
    print(f"agent {args.agent_id} is now {args.new_id}")
    return 0


def _forget(args: argparse.Namespace) -> int:
    from callroles.agents.store import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.agents.voiceprints import VoiceprintError  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)

    if not open_store(get_settings()).forget(args.agent_id, args.tenant):
        raise VoiceprintError(
            f"no voiceprint for agent {args.agent_id!r}", code="voiceprint_unknown_agent"
        )
    print(f"forgot agent {args.agent_id}: its voiceprint and evidence are removed from the store")
    return 0


def _correct(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415 (CLI handler: loaded on use)

    from callroles.base.errors import CallrolesError  # noqa: PLC0415 (CLI handler: loaded on use)

    try:  # the workers apply it: this needs the streaming distribution, not the runtime alone
        from callroles.streaming.corrections import send_correction  # noqa: PLC0415 (optional)
        from callroles.streaming.settings import streaming_settings  # noqa: PLC0415 (optional)
    except ImportError:
        print("callroles agents correct: install callroles-streaming (the workers apply "
              "corrections)", file=sys.stderr)  # fmt: skip
        return 2
    if not args.undo and not args.agent_speaker:
        print("callroles agents correct: --agent-speaker S or --undo", file=sys.stderr)
        return 2
    try:
        event = asyncio.run(
            send_correction(
                streaming_settings(), args.call_id, args.agent_speaker, undo=args.undo, by=args.by
            )  # fmt: skip
        )
    except CallrolesError as exc:
        print(f"callroles agents correct: [{exc.code}] {exc}", file=sys.stderr)
        return 1
    what = "withdrawn" if args.undo else f"agent is {args.agent_speaker}"
    print(f"call {event['call_id']}: correction sent ({what}); the corrected result follows "
          "on the result topic with the next revision")  # fmt: skip
    return 0
