"""The CI recipes in examples/ci: valid for their CI servers (public schemas, offline), and every
navtalk-sweep command in them is one this version accepts."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest
import yaml

from navtalk_sweep.cli import build_parser
from tests.conftest import ROOT, extra_tool

RECIPES = {"github-actions.yml": "vendor.github-workflows", ".gitlab-ci.yml": "vendor.gitlab-ci"}


@pytest.mark.parametrize(("name", "schema"), RECIPES.items())
def test_recipe_validates_against_its_public_schema(name, schema):
    tool = extra_tool("check-jsonschema")
    proc = subprocess.run([tool, "--builtin-schema", schema, str(ROOT / "examples" / "ci" / name)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def commands(node) -> list[str]:
    """Every shell line of a workflow that calls navtalk-sweep."""
    out = []
    if isinstance(node, dict):
        for value in node.values():
            out += commands(value)
    elif isinstance(node, list):
        for value in node:
            out += commands(value)
    elif isinstance(node, str) and "navtalk-sweep " in node:
        out += [line for line in node.splitlines() if line.strip().startswith("navtalk-sweep ")]
    return out


@pytest.mark.parametrize("name", RECIPES)
def test_every_navtalk_sweep_command_in_a_recipe_parses(name):
    data = yaml.safe_load((ROOT / "examples" / "ci" / name).read_text(encoding="utf-8"))
    lines = commands(data)
    assert len(lines) >= 5  # shard runs, merge, compare (twice), the nightly run
    verbs = set()
    for line in lines:
        line = re.sub(r"\$\{\{[^}]*\}\}|\$\{?CI_NODE_INDEX\}?", "1", line).replace("${CI_NODE_TOTAL}", "4")
        words = shlex.split(re.split(r"\s(?:\|\||&&|>)\s", line)[0])[1:]
        args = build_parser().parse_args(words)  # exits (SystemExit) on an unknown flag
        verbs.add(args.command)
    assert verbs == {"run", "merge", "compare"}
    text = (ROOT / "examples" / "ci" / name).read_text(encoding="utf-8")
    assert "--shard" in text and "--baseline" in text and "--format markdown" in text
    assert "sk-" not in text  # the licence comes from a secret, never from the file
