"""The HTML report: one self-contained file, checked in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from callroles.base.cli import main
from callroles.report.html import build_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def load_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after load and every console message (a script-free page must log none)."""
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return proc.stdout, console


@pytest.fixture(scope="module")
def report(batch: tuple[list[dict], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    results, truth_dir = batch
    return build_report(results, tmp_path_factory.mktemp("report"), truth_dir=truth_dir)


def test_self_contained_with_json_links(report: Path, batch: tuple[list[dict], Path]) -> None:
    results, _ = batch
    text = report.read_text("utf-8")
    assert not re.search(r"https?://", text), "external reference in the report"
    assert not re.search(r'(src|href)="(?!data:|results/|#)', text)
    assert text.count('<img alt="timeline ') == len(results)
    assert text.count("data:image/png;base64,") == len(results) + 2  # + two charts
    for res in results:
        href = f"results/{res['call_id']}.json"
        assert f'href="{href}"' in text
        assert json.loads((report.parent / href).read_text())["call_id"] == res["call_id"]
        assert (report.parent / "timelines" / f"{res['call_id']}.png").is_file()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_chromium_loads_it_cleanly_and_shows_every_call(
    report: Path, batch: tuple[list[dict], Path], tmp_path: Path
) -> None:
    results, _ = batch
    # the check itself works: a page with a script error is caught
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>undefinedFn();</script></body></html>")
    _, console = load_in_chromium(bad, tmp_path / "profile-bad")
    assert any("Uncaught" in line for line in console)

    dom, console = load_in_chromium(report, tmp_path / "profile")
    assert console == []
    shown = re.findall(r'<tbody class="call" data-call-id="([^"]+)"', dom)
    assert shown == [r["call_id"] for r in results]
    assert dom.count("<figure") == len(results)
    assert "&#10007;" in dom or "\u2717" in dom  # the swapped call is flagged against truth


def test_report_command_from_a_results_file(
    batch: tuple[list[dict], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results, truth_dir = batch
    src = tmp_path / "results.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in results))
    out = tmp_path / "out"
    code = main(["report", "--results", str(src), "--out", str(out), "--truth", str(truth_dir)])
    assert code == 0
    printed = capsys.readouterr().out
    assert all(r["call_id"] in printed for r in results)
    page = (out / "index.html").read_text()
    assert page.count('<tbody class="call"') == len(results)


def test_report_command_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"call_id": "x"}\n')
    assert main(["report", "--results", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert "report_input" in capsys.readouterr().err
    assert main(["report", "--results", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)]) == 1
