"""report.html: one self-contained page (CSS and JS inline, no external address), autoescaped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from navtalk_sweep.report._view import (
    axes_of,
    best_panels,
    columns,
    heatmaps,
    measures_of,
    rows,
    search_views,
    summary,
)
from navtalk_sweep.results import Run


@cache
def environment() -> jinja2.Environment:
    """The one Jinja environment: autoescaped, strict about undefined names."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("navtalk_sweep.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["fmt"] = lambda v: "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
    return env


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' survives to close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


#: where the page's data goes in the rendered template (a tag no escaped text can spell), written in
#: pieces, a row at a time
_DATA = "<navtalk-data/>"


def _target(meta: dict[str, Any]) -> str:
    t = meta.get("target") or {}
    if not t:
        return "?"
    return f"{t.get('kind')} {t.get('generate_url')} (licence {t.get('license') or 'none'})"


def _page(run: Run, comparison: dict[str, Any] | None, refresh: int) -> Iterator[str]:
    """The page in pieces: the template around the data, and the data a row at a time (at 50,000 cases
    the page is 60 MB; built whole, with its rows as dicts, it took 350 MB)."""
    axes = axes_of(run.records)
    cols = columns(run, axes)
    varying = measures_of(run.records)  # the maps' and the best settings' measures, found once
    page = environment().get_template("report.html.jinja2").render(
        meta={"run_id": None, "started_at": None, "finished_at": None, "stop_reason": None, "status": None,
              **run.meta},
        target=_target(run.meta), summary=summary(run), heatmaps=heatmaps(run, axes, varying),
        comparison=comparison, data_json=Markup(_DATA), searches=search_views(run), best=best_panels(run, varying),
        refresh=refresh,
    )
    before, _, after = page.partition(_DATA)
    head = _script_json({"run_id": run.meta.get("run_id"), "axes": axes, "columns": cols})
    yield before + head.removesuffix("}") + ',"rows":['
    for i, row in enumerate(rows(run, cols)):
        yield ("," if i else "") + _script_json(row)
    yield "]}" + after


def render_html(run: Run, comparison: dict[str, Any] | None = None, refresh: int = 10) -> str:
    """The page; while the run goes (its status "running") it reloads itself every ``refresh`` seconds."""
    return "".join(_page(run, comparison, refresh))


def write_html(run: Run, comparison: dict[str, Any] | None = None, path: Path | None = None,
               refresh: int = 10) -> Path:
    """Write the page atomically: a browser refreshing it during a run never reads half a file."""
    path = path or run.path / "report.html"
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.writelines(_page(run, comparison, refresh))
    tmp.replace(path)
    return path
