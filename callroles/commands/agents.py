"""``callroles agents enroll|list|forget``: the agents' voiceprints (callroles.agents.voiceprints).

Handlers import the front end inside themselves so that ``callroles --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    a = sub.add_parser("agents", help="agents' voiceprints: enroll, list, forget")
    asub = a.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = asub.add_parser("enroll", help="learn an agent's voice from recordings of them alone")
    e.add_argument("--agent-id", required=True)
    e.add_argument("--tenant", default="", help="the tenant the agent belongs to")
    e.add_argument("files", nargs="+", type=Path, help="recordings of the agent alone")
    e.set_defaults(func=_enroll)
    ls = asub.add_parser("list", help="enrolled agents (no vectors printed)")
    ls.add_argument("--tenant", default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    f = asub.add_parser("forget", help="remove an agent's voiceprint (every trace of it)")
    f.add_argument("agent_id")
    f.add_argument("--tenant", default="")
    f.set_defaults(func=_forget)


def _enroll(args: argparse.Namespace) -> int:
    from callroles.agents.voiceprints import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
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


def _list(args: argparse.Namespace) -> int:
    from callroles.agents.voiceprints import open_store  # noqa: PLC0415 (CLI handler: loaded on use)
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
            f"{r['partials']:4d} partials  {r['model']}  enrolled {r['enrolled_at']}  "
            f"learnt from {r['auto_samples']} call(s), refused {r['refused']}"
            + (f" (last: {r['last_refusal']})" if r["last_refusal"] else "")
        )
    print(f"{len(rows)} agent(s)")
    return 0


def _forget(args: argparse.Namespace) -> int:
    from callroles.agents.voiceprints import VoiceprintError, open_store  # noqa: PLC0415 (CLI handler: loaded on use)
    from callroles.base.settings import get_settings  # noqa: PLC0415 (CLI handler: loaded on use)

    if not open_store(get_settings()).forget(args.agent_id, args.tenant):
        raise VoiceprintError(
            f"no voiceprint for agent {args.agent_id!r}", code="voiceprint_unknown_agent"
        )
    print(f"forgot agent {args.agent_id}: its voiceprint is removed from the store")
    return 0
