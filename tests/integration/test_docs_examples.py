"""Every YAML example in README.md and docs/ works as written (issue 19, item 8).

Scenario files validate (their local files resolved from ``scenarios/``, as the docs' commands
run from the project root); mock settings load; an ``expect`` snippet passes on the bundled mock
for the tuning portrait it is written for, on real speech. The Python examples run in
``test_session.py``.
"""

from __future__ import annotations

import re

import pytest
import yaml

from navtalk_sweep import analysis
from navtalk_sweep.record import Outcome
from navtalk_sweep.runner import evaluate
from navtalk_sweep.scenario import Expect, load_text
from navtalk_sweep.session import Target, load_mock_config, load_plan, run_sweep
from tests.conftest import ROOT, SCENARIOS, small_tuning

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def yaml_blocks() -> list[tuple[str, str]]:
    out = []
    for path in DOCS:
        for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)):
            out.append((f"{path.relative_to(ROOT)}#{i + 1}", block))
    return out


BLOCKS = yaml_blocks()


def kind_of(block: str) -> str:
    data = yaml.safe_load(block)
    if isinstance(data, dict) and set(data) == {"expect"}:
        return "expect"
    if isinstance(data, dict) and ({"scenarios", "matrix", "inputs"} & set(data)):
        return "scenario"
    return "mock"


def test_the_docs_have_yaml_examples_of_every_kind():
    assert {kind_of(b) for _, b in BLOCKS} == {"expect", "scenario", "mock"}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One setting of the tuning portrait with its own 5 s of speech (pauses and all), on the bundled mock."""
    if not analysis.available():
        pytest.skip("the expect examples name video measures: needs the face extra")
    root = tmp_path_factory.mktemp("docs")
    scenario = small_tuning(root, step=19, margins="[0]", short_speech=False)
    return run_sweep(load_plan([scenario]), root / "run", target=Target.mock(), report=False).records


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_a_yaml_example_works_as_written(where, block, tmp_path, request):
    kind = kind_of(block)
    if kind == "scenario":
        loaded = load_text(block, where, base=SCENARIOS)
        assert loaded.plans and all(p.count() > 0 for p in loaded.plans)
    elif kind == "mock":
        path = tmp_path / "mock.yaml"
        path.write_text(block, encoding="utf-8")
        load_mock_config(path)
    else:  # the checks the runner makes of a case with this expect, on videos the mock rendered
        expect = Expect.model_validate(yaml.safe_load(block)["expect"])
        records = request.getfixturevalue("tuned")
        assert records and all(r.done for r in records)
        for rec in records:
            verdict, checks = evaluate(expect, rec)
            failed = [c.detail for c in checks if not c.ok]
            assert verdict is Outcome.PASSED, f"{where}: fails on the bundled mock's {rec.label}: {failed}"


# -- the shell examples ----------------------------------------------------------------------------------

#: shell examples run for real, in a scratch directory holding the project's scenarios (offline, a few
#: seconds each); every other ``navtalk-sweep`` line is parsed by the CLI's own parser and the scenario files
#: it names must exist: they send paid tasks (``--target navtalk``), render every scenario of the project
#: (minutes), or need a recording only a paid run makes
RUN_AS_WRITTEN = (
    "navtalk-sweep run scenarios/quickstart.yaml",
    "navtalk-sweep preview scenarios/bbox_margin_tuning.yaml",
)


def shell_commands() -> list[tuple[str, list[str]]]:
    import shlex

    out = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, re.DOTALL):
            for line in block.splitlines():
                words = shlex.split(line, comments=True)
                # a line is commands joined by && (an install, then the command); a trailing & backgrounds it
                command: list[str] = []
                redirect = False
                for word in [*words, "&&"]:
                    if word in ("&&", "&", ";"):
                        if command:
                            out.append((str(path.relative_to(ROOT)), command))
                        command, redirect = [], False
                    elif word.startswith(">") or redirect:  # "> comment.md": the shell's, not the command's
                        redirect = word == ">" and not redirect
                    else:
                        command.append(word)
    return out


SHELL = shell_commands()
CLI_LINES = [(where, c) for where, c in SHELL if c[0] == "navtalk-sweep"]


def test_the_docs_have_shell_examples_and_the_ones_run_here_are_among_them():
    written = {" ".join(c) for _, c in CLI_LINES}
    assert len(CLI_LINES) >= 15 and set(RUN_AS_WRITTEN) <= written, sorted(written)


@pytest.mark.parametrize(("where", "argv"), CLI_LINES, ids=[f"{w}:{' '.join(c[1:3])}" for w, c in CLI_LINES])
def test_a_shell_example_is_a_command_the_cli_accepts(where, argv):
    from navtalk_sweep.cli import build_parser

    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit as exc:
        pytest.fail(f"{where}: `{' '.join(argv)}` is refused by the CLI (exit {exc.code})")
    for name in getattr(args, "files", []) or []:
        assert (ROOT / name).exists(), f"{where}: `{' '.join(argv)}` names {name}, which is not in the project"


def test_the_offline_shell_examples_run_as_written(tmp_path, monkeypatch, capsys):
    import shutil

    from navtalk_sweep.cli import main

    if not analysis.available():
        pytest.skip("the preview needs the face extra")
    shutil.copytree(SCENARIOS, tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    for command in RUN_AS_WRITTEN:
        assert main(command.split()[1:]) == 0, command
    out = capsys.readouterr().out
    assert "report.html" in out and (tmp_path / "reports").is_dir()
    assert list(tmp_path.rglob("*.png")), "the preview wrote no contact sheet"
