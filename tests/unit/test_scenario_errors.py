"""Broken scenario files: each gives its one-line error (kept beside it as NAME.err) and exit 2."""

from __future__ import annotations

import pytest

from navtalk_sweep.cli import main
from tests.conftest import DATA

INVALID = sorted((DATA / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_broken_file_gives_one_line_error_and_exit_2(path, capsys, monkeypatch):
    monkeypatch.chdir(path.parent)
    assert main(["validate", path.name]) == 2
    err = capsys.readouterr().err
    expected = path.with_suffix(".err").read_text(encoding="utf-8")
    assert err == expected, "regenerate with: navtalk-sweep validate NAME.yaml 2> NAME.err (after checking it)"
    assert "Traceback" not in err and err.count("\n") == 1


def test_there_are_broken_files_for_each_kind_the_issue_names():
    stems = {p.stem for p in INVALID}
    assert {"unknown_field", "wrong_type", "bad_range", "yaml_syntax", "missing_input"} <= stems


def test_missing_file_names_it(capsys):
    assert main(["validate", "no/such/file.yaml"]) == 2
    assert capsys.readouterr().err == "no/such/file.yaml: no such file\n"


def test_out_of_range_values_warn_once_and_still_validate(tmp_path, capsys):
    f = tmp_path / "wide.yaml"
    f.write_text(
        "name: wide\ninputs:\n  faces: {g: {character_name: girl2}}\n  speech: {h: {text: hi, voice: nova}}\n"
        "matrix:\n  bbox_shift: [0, 12, -20]\n  extra_margin: [80]\n",
        encoding="utf-8",
    )
    assert main(["validate", str(f)]) == 0
    out = capsys.readouterr()
    warnings = [line for line in out.err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith("bbox_shift=12, bbox_shift=-20, extra_margin=80")
    assert "ok: 1 scenario(s), 3 case(s)" in out.out
