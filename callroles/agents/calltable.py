"""Read an archive's call table, from a CSV file or a database table (sqlite URL or file).

Columns: call_id, file, agent_id (always), agent_gender, customer_id (the paper's DBAS needs
them: ``DBAS_COLUMNS``); duration_s, language (optional). A user's own archive works the same
way as a generated one (``callroles simulate`` writes calls.csv in this shape).
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from callroles.base.errors import InputError

REQUIRED = ("call_id", "file", "agent_id")
DBAS_COLUMNS = (*REQUIRED, "agent_gender", "customer_id")
OPTIONAL = ("duration_s", "language")


class CallTableError(InputError):
    """A call table that cannot be read or lacks columns."""

    code = "call_table"
    stage = "dataset"


@dataclass(frozen=True)
class CallRow:
    """One call of the archive as the company database describes it."""

    call_id: str
    file: str
    agent_id: str
    agent_gender: str
    customer_id: str
    duration_s: float | None = None
    language: str = ""


def _check_columns(columns: list[str], source: str, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise CallTableError(
            f"call table {source} lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(columns) or 'no columns'} (required: {', '.join(required)})",
            code="call_table_columns",
        )


def _to_row(rec: dict[str, object]) -> CallRow:
    def text(key: str) -> str:
        v = rec.get(key)
        return "" if v is None else str(v).strip()

    dur = text("duration_s")
    try:
        duration = float(dur) if dur else None
    except ValueError:
        duration = None
    return CallRow(
        call_id=text("call_id"),
        file=text("file"),
        agent_id=text("agent_id"),
        agent_gender=text("agent_gender").lower(),
        customer_id=text("customer_id"),
        duration_s=duration,
        language=text("language"),
    )


def _read_csv(path: Path, required: tuple[str, ...]) -> list[CallRow]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            _check_columns(list(reader.fieldnames or []), str(path), required)
            return [_to_row(dict(r)) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CallTableError(f"cannot read call table {path}: {exc}") from exc


def _sqlite_path(source: str) -> Path | None:
    if source.startswith("sqlite:///"):  # SQLAlchemy style: 3 slashes relative, 4 absolute
        return Path(unquote(source.removeprefix("sqlite:///")))
    if source.startswith("sqlite:"):
        raise CallTableError(
            f"bad sqlite URL {source!r}: use sqlite:///relative.db or sqlite:////absolute/path.db"
        )
    if Path(source).suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        return Path(source)
    return None


def _read_sqlite(path: Path, table: str, required: tuple[str, ...]) -> list[CallRow]:
    if not path.is_file():
        raise CallTableError(f"database file {path} does not exist")
    if not table.replace("_", "").isalnum():
        raise CallTableError(f"table name {table!r} must be letters, digits and underscores")
    try:
        with sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True) as conn:
            cur = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (name checked above)
            columns = [d[0] for d in cur.description]
            _check_columns(columns, f"{path}:{table}", required)
            return [_to_row(dict(zip(columns, r, strict=True))) for r in cur.fetchall()]
    except sqlite3.Error as exc:
        raise CallTableError(f"cannot read table {table!r} from {path}: {exc}") from exc


def read_calls(
    source: str | Path, table: str = "calls", required: tuple[str, ...] = DBAS_COLUMNS
) -> list[CallRow]:
    """The call table from a CSV path, a sqlite file, or a ``sqlite:///path`` URL, with the
    ``required`` columns."""
    text = str(source)
    db = _sqlite_path(text)
    if db is not None:
        return _read_sqlite(db, table, required)
    if "://" in text:
        raise CallTableError(
            f"unsupported database URL {text!r}: use sqlite:///path.db, or export the table to CSV"
        )
    path = Path(text)
    if not path.is_file():
        raise CallTableError(f"call table {path} does not exist")
    return _read_csv(path, required)
