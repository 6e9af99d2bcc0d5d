"""Pure functions from a stored run to HTML, JUnit XML, comparisons and merged runs."""

from navtalk_sweep.report._html import render_html, write_html
from navtalk_sweep.report._live import LiveReport
from navtalk_sweep.report._publish import publish
from navtalk_sweep.report._view import axes_of, percentile, summary
from navtalk_sweep.report.compare import Comparison, compare_runs, format_comparison
from navtalk_sweep.report.junit import junit_tree, write_junit
from navtalk_sweep.report.merge import merge_runs

__all__ = [
    "Comparison",
    "LiveReport",
    "axes_of",
    "compare_runs",
    "format_comparison",
    "junit_tree",
    "merge_runs",
    "percentile",
    "publish",
    "render_html",
    "summary",
    "write_html",
    "write_junit",
]
