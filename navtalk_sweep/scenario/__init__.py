"""Scenario files: a declarative grid over inputs, voices and face controls, expanded lazily."""

from navtalk_sweep.scenario._grid import Grid
from navtalk_sweep.scenario._load import LoadedFile, load_path, load_scenarios, load_text, scenario_files
from navtalk_sweep.scenario._model import Expect, Sample, Scenario, ScenarioFile, json_schema
from navtalk_sweep.scenario._plan import PARAMETERS, Case, ScenarioPlan, case_id_of

__all__ = [
    "PARAMETERS",
    "Case",
    "Expect",
    "Grid",
    "LoadedFile",
    "Sample",
    "Scenario",
    "ScenarioFile",
    "ScenarioPlan",
    "case_id_of",
    "json_schema",
    "load_path",
    "load_scenarios",
    "load_text",
    "scenario_files",
]
