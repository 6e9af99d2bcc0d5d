"""report.html: one self-contained page (CSS and JS inline, no external address), autoescaped."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from navtalk_sweep.report._view import axes_of, best_panels, columns, heatmaps, rows, search_views, summary
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


def _script_json(data: Any) -> Markup:
    """JSON safe inside <script>: no '<', '>' or '&' survives to close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _target(meta: dict[str, Any]) -> str:
    t = meta.get("target") or {}
    if not t:
        return "?"
    return f"{t.get('kind')} {t.get('generate_url')} (licence {t.get('license') or 'none'})"


def render_html(run: Run, comparison: dict[str, Any] | None = None, refresh: int = 10) -> str:
    """The page; while the run goes (its status "running") it reloads itself every ``refresh`` seconds."""
    axes = axes_of(run.records)
    cols = columns(run, axes)
    data = {"run_id": run.meta.get("run_id"), "axes": axes, "columns": cols, "rows": rows(run, cols)}
    return environment().get_template("report.html.jinja2").render(
        meta={"run_id": None, "started_at": None, "finished_at": None, "stop_reason": None, "status": None,
              **run.meta},
        target=_target(run.meta), summary=summary(run), heatmaps=heatmaps(run, axes),
        comparison=comparison, data_json=_script_json(data), searches=search_views(run), best=best_panels(run),
        refresh=refresh,
    )


def write_html(run: Run, comparison: dict[str, Any] | None = None, path: Path | None = None,
               refresh: int = 10) -> Path:
    """Write the page atomically: a browser refreshing it during a run never reads half a file."""
    path = path or run.path / "report.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(run, comparison, refresh), encoding="utf-8")
    tmp.replace(path)
    return path
