"""Tamper evidence of the whole run folder: run.end (and every re-score) seals the checksums of
every artifact into the audit chain, so a one-byte edit to any file makes `memeval audit
verify` fail naming that file (and line); a re-score keeps it green and refuses to seal over
an edit. Runs of the plug-in toy pack (tests/plugin_pack): real CLI, no LLM, seconds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import memeval

PACK = Path(__file__).parent / "plugin_pack"
ENV = {"PYTHONPATH": os.pathsep.join([str(PACK), os.environ.get("PYTHONPATH", "")])}
ARTIFACTS = ("predictions.jsonl", "verdicts.jsonl", "scores.jsonl", "metrics.json",
             "manifest.json", "checksums.json", "audit.jsonl")


def cli(*args: str, check: bool = True):
    return memeval(*args, env=ENV, check=check, timeout=300)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed") / "run"
    cli("run", "--task", "toy-recall", "--system", "toy-mem:forget=true", "--judge", "rule",
        "--out", str(out))
    return out


def flip_one_byte(path: Path, line: int) -> None:
    """Change one letter or digit in the middle of `line` (1-based) to another one."""
    data = bytearray(path.read_bytes())
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
    lo, hi = starts[line - 1], starts[line] - 1 if line < len(starts) else len(data)
    mid = lo + (hi - lo) // 2
    pos = next(i for i in list(range(mid, hi)) + list(range(lo, mid))
               if chr(data[i]).isalnum())
    data[pos] = ord("7" if chr(data[pos]) != "7" else "8")
    path.write_bytes(bytes(data))


def test_a_finished_run_verifies(run: Path) -> None:
    res = cli("audit", "verify", str(run))
    assert "chain intact" in res.stdout and "every artifact matches the seal" in res.stdout
    assert (run / "checksums.json").is_file()


@pytest.mark.parametrize("name", ARTIFACTS)
def test_one_byte_edit_of_any_artifact_is_named(run: Path, tmp_path: Path, name: str) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    line = 2 if len((copy / name).read_bytes().splitlines()) >= 2 else 1
    flip_one_byte(copy / name, line)
    res = cli("audit", "verify", str(copy), check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    said = res.stderr.replace("\n", "")
    assert "BROKEN" in said and (name in said or name == "audit.jsonl"), said
    if name.endswith(".jsonl") and name != "audit.jsonl":
        assert f"{name} line {line}: altered" in said, said
    if name == "audit.jsonl":
        assert f"line {line}:" in said


def test_manifest_edits_name_the_field(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["seed"] = 1
    (copy / "manifest.json").write_text(json.dumps(m, indent=2))
    res = cli("audit", "verify", str(copy), check=False)
    assert res.returncode == 1 and "manifest.json field 'seed': altered" in res.stderr


def test_a_deleted_or_added_artifact_is_named(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "verdicts.jsonl").unlink()
    res = cli("audit", "verify", str(copy), check=False)
    assert res.returncode == 1 and "verdicts.jsonl: deleted" in res.stderr
    lines = (run / "predictions.jsonl").read_text().splitlines(keepends=True)
    (copy / "predictions.jsonl").write_text("".join(lines[:-1]))
    shutil.copy(run / "verdicts.jsonl", copy / "verdicts.jsonl")
    res = cli("audit", "verify", str(copy), check=False)
    assert res.returncode == 1 and f"predictions.jsonl line {len(lines)}: lines removed" \
        in res.stderr


def test_a_rescore_appends_a_seal_and_keeps_verify_green(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    before = (copy / "audit.jsonl").read_text().splitlines()
    cli("score", str(copy))
    after = (copy / "audit.jsonl").read_text().splitlines()
    assert after[:len(before)] == before and json.loads(after[-1])["kind"] == "run.rescore"
    assert "checksums_sha256" in json.loads(after[-1])["payload"]
    assert cli("audit", "verify", str(copy)).returncode == 0
    cli("score", str(copy), "--judge")  # judging again is still a re-score, still sealed
    assert cli("audit", "verify", str(copy)).returncode == 0


def test_a_rescore_refuses_to_seal_over_an_edit(run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    flip_one_byte(copy / "predictions.jsonl", 3)
    res = cli("score", str(copy), check=False)
    assert res.returncode == 2 and "predictions.jsonl line 3: altered" in res.stderr
    assert "refusing to re-score" in res.stderr and "Traceback" not in res.stderr
    assert cli("audit", "verify", str(copy), check=False).returncode == 1  # still caught
