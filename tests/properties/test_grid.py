"""Properties of lazy expansion: counts, random sampling, pairwise coverage, stable ids."""

from __future__ import annotations

import math
from itertools import combinations, product

from hypothesis import given, settings
from hypothesis import strategies as st

from navtalk_sweep.scenario import Grid, load_text


@st.composite
def grids(draw):
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=5))
    rules = []
    for _ in range(draw(st.integers(0, 4))):
        axes = draw(st.sets(st.integers(0, len(sizes) - 1), min_size=1, max_size=len(sizes)))
        rules.append({a: frozenset(draw(st.sets(st.integers(0, sizes[a] - 1), min_size=1))) for a in axes})
    return Grid(sizes, rules)


def brute(grid: Grid):
    return [idx for idx in product(*(range(s) for s in grid.sizes)) if not grid.excluded(idx)]


@given(grids())
def test_count_is_product_minus_what_rules_remove(grid):
    survivors = brute(grid)
    assert grid.count() == len(survivors)
    assert list(grid) == survivors
    if not grid.rules:
        assert grid.count() == math.prod(grid.sizes)


@given(grids(), st.data())
def test_pinned_count_matches_filtering(grid, data):
    axis = data.draw(st.integers(0, len(grid.sizes) - 1))
    value = data.draw(st.integers(0, grid.sizes[axis] - 1))
    assert grid.count({axis: value}) == sum(1 for idx in brute(grid) if idx[axis] == value)


@given(grids(), st.integers(1, 30), st.integers(0, 2**32))
def test_random_sample_is_reproducible_distinct_and_valid(grid, n, seed):
    a, b = list(grid.random(n, seed)), list(grid.random(n, seed))
    assert a == b
    assert len(a) == min(n, grid.count()) == len(set(a))
    assert not any(grid.excluded(idx) for idx in a)


@given(grids())
def test_pairwise_covers_every_coverable_pair(grid):
    cases = grid.pairwise()
    survivors = brute(grid)
    assert set(cases) <= set(survivors)
    for a, b in combinations(range(len(grid.sizes)), 2):
        coverable = {(idx[a], idx[b]) for idx in survivors}
        covered = {(idx[a], idx[b]) for idx in cases}
        assert covered == coverable


def test_pairwise_is_far_smaller_than_the_full_grid():
    grid = Grid([7, 7, 4, 5, 3, 2])
    cases = grid.pairwise()
    assert len(cases) <= 70 < grid.count() // 50  # 11,760 combinations
    pairs = {(a, idx[a], b, idx[b]) for idx in cases for a, b in combinations(range(6), 2)}
    assert len(pairs) == sum(x * y for x, y in combinations(grid.sizes, 2))


def test_million_case_grid_counts_and_samples_without_building_it():
    grid = Grid([10] * 6, [{0: frozenset({0}), 1: frozenset({0})}])
    assert grid.count() == 10**6 - 10**4
    sample = list(grid.random(100, seed=7))
    assert len(set(sample)) == 100 and all(idx[:2] != (0, 0) for idx in sample)


def test_a_plan_counts_each_pinned_grid_once_however_often_it_is_asked(monkeypatch):
    # 20 overlapping rules take seconds to count by inclusion-exclusion: loading, `validate` and
    # `plan`'s summary asked for the same counts again (24 s of `plan` where one count took 4.7 s)
    calls: list[dict[int, int]] = []
    real = Grid._count
    monkeypatch.setattr(Grid, "_count", lambda self, pinned: calls.append(pinned) or real(self, pinned))
    plan = load_text(SCENARIO, "ids.yaml").plans[0]
    total = plan.count()
    plan.summary()
    assert plan.count() == total and plan.grid.count({}) == total
    keys = [tuple(sorted(p.items())) for p in calls]
    assert len(keys) == len(set(keys)) and () in keys


SCENARIO = """
name: ids
inputs:
  faces: {girl: {character_name: girl2}, pic: {image_url: "https://example.com/p.jpg"}}
  speech: {hi: {text: "Hello there", voice: nova}}
matrix:
  face: [girl, pic]
  speech: [hi]
  bbox_shift: {from: -9, to: 9}
  extra_margin: [0, 10, 20]
  parsing_mode: [jaw, raw]
"""


@settings(max_examples=25)
@given(st.integers(0, 2 * 19 * 3 * 2 - 1))
def test_case_ids_are_stable_and_unique(i):
    plan_a = load_text(SCENARIO, "ids.yaml").plans[0]
    plan_b = load_text(SCENARIO.replace("name: ids", "name: other"), "x.yaml").plans[0]
    cases_a, cases_b = list(plan_a), list(plan_b)
    assert len({c.case_id for c in cases_a}) == len(cases_a)
    # same request, same id: it depends on neither file, scenario name nor order
    assert cases_a[i].case_id == cases_b[i].case_id
    assert cases_a[i].case_id == plan_a.case(dict(cases_a[i].params)).case_id


def test_case_id_is_pinned():
    # a change here changes every stored result's id, and --reuse/compare stop matching old runs
    first = next(iter(load_text(SCENARIO, "ids.yaml").plans[0]))
    assert first.request == {"character_name": "girl2", "content": "Hello there", "voice": "nova",
                             "bbox_shift": -9, "extra_margin": 0, "parsing_mode": "jaw"}
    assert first.case_id == "3defd2e9b497"


@settings(max_examples=20)
@given(st.integers(1, 5), st.integers(0, 7))
def test_shards_partition_the_cases(shards, offset):
    plan = load_text(SCENARIO, "ids.yaml").plans[0]
    parts = [[c.case_id for c in plan.shard(k, shards, offset)] for k in range(shards)]
    assert sorted(i for part in parts for i in part) == sorted(c.case_id for c in plan)
    assert sum(len(p) for p in parts) == plan.count()
