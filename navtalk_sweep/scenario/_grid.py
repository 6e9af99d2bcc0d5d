"""Index arithmetic over a grid of axes: counting, membership, sampling, pairwise.

A case is a tuple of value indexes, one per axis. Nothing here builds the full list:
counting uses inclusion-exclusion over the exclusion rules, random sampling draws
from the index space, and pairwise builds a covering array greedily.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from itertools import combinations
from random import Random  # by name: the method Grid.random would shadow a module import

Index = tuple[int, ...]
#: an exclusion rule: for each axis it constrains, the value indexes it matches
Rule = dict[int, frozenset[int]]

#: past this many rules inclusion-exclusion may blow up; counting walks the grid instead
_MAX_RULES_FOR_FORMULA = 20
#: the largest grid counting may walk, and the most value pairs pairwise may cover (each a few seconds)
MAX_WALK = 1_000_000
MAX_PAIRS = 250_000
_CHUNK = 100_000


class GridTooLarge(ValueError):
    """The grid is too large for the asked operation to finish in reasonable time and memory."""


class Grid:
    """The cartesian product of axis sizes, minus what exclusion rules remove."""

    def __init__(self, sizes: Sequence[int], rules: Sequence[Rule] = ()) -> None:
        self.sizes = tuple(sizes)
        self.rules = [r for r in rules if all(r.values())]  # a rule matching no value matches nothing
        self.raw_size = math.prod(self.sizes)
        #: counts made, by pinned axes: loading, validating and summing up a plan ask the same ones, and
        #: inclusion-exclusion over 20 overlapping rules takes seconds
        self._counts: dict[tuple[tuple[int, int], ...], int] = {}

    def decode(self, i: int) -> Index:
        """The value indexes of raw position ``i`` (last axis varies fastest)."""
        out = []
        for size in reversed(self.sizes):
            i, r = divmod(i, size)
            out.append(r)
        return tuple(reversed(out))

    def excluded(self, idx: Index) -> bool:
        return any(all(idx[a] in allowed for a, allowed in rule.items()) for rule in self.rules)

    def count(self, pinned: dict[int, int] | None = None) -> int:
        """How many cases survive the rules (with some axes pinned to one value)."""
        key = tuple(sorted((pinned or {}).items()))
        if key not in self._counts:
            self._counts[key] = self._count(dict(key))
        return self._counts[key]

    def _count(self, pinned: dict[int, int]) -> int:
        if len(self.rules) > _MAX_RULES_FOR_FORMULA:
            if self.raw_size > MAX_WALK:
                raise GridTooLarge(f"{len(self.rules)} exclude rules over {self.raw_size} combinations cannot be "
                                   f"counted (at most {_MAX_RULES_FOR_FORMULA} rules, or {MAX_WALK} combinations)")
            return sum(1 for idx in self if all(idx[a] == v for a, v in pinned.items()))

        def size_of(constraint: Rule) -> int:
            total = 1
            for axis, size in enumerate(self.sizes):
                allowed = constraint.get(axis)
                if axis in pinned:
                    total *= 1 if allowed is None or pinned[axis] in allowed else 0
                else:
                    total *= size if allowed is None else len(allowed)
            return total

        removed = 0

        def walk(start: int, constraint: Rule, depth: int) -> None:
            nonlocal removed
            for k in range(start, len(self.rules)):
                merged = dict(constraint)
                for axis, allowed in self.rules[k].items():
                    merged[axis] = merged[axis] & allowed if axis in merged else allowed
                n = size_of(merged)
                if n == 0:
                    continue
                removed += n if depth % 2 == 0 else -n
                walk(k + 1, merged, depth + 1)

        walk(0, {}, 0)
        full = size_of({})
        return full - removed

    def __iter__(self) -> Iterator[Index]:
        # an odometer, not itertools.product: product lists every axis first, and an axis
        # may be a range of billions of values
        if not self.sizes:
            yield ()
            return
        if 0 in self.sizes:
            return
        idx = [0] * len(self.sizes)
        last = len(self.sizes) - 1
        while True:
            case = tuple(idx)
            if not self.excluded(case):
                yield case
            axis = last
            while True:
                idx[axis] += 1
                if idx[axis] < self.sizes[axis]:
                    break
                idx[axis] = 0
                axis -= 1
                if axis < 0:
                    return

    def random(self, n: int, seed: int) -> Iterator[Index]:
        """``n`` distinct surviving cases, the same for the same seed on every machine, drawn as they are
        asked for (the first few of a sample of a billion cost what a sample of ten does)."""
        rng = Random(seed)
        available = self.count()
        if n >= available:
            yield from self
            return
        # mostly-excluded grids would make rejection sampling slow: walk them instead
        if available * 4 < self.raw_size and self.raw_size <= 2_000_000:  # as v0.1.0 drew: same seed, same cases
            yield from rng.sample(list(self), n)
            return
        picked: set[int] = set()
        while len(picked) < n:
            # draws in bounded chunks; below the bound, exactly the draws earlier versions made
            for raw in self._draw(rng, min(self.raw_size, 2 * (n - len(picked)) + 8, _CHUNK)):
                if raw not in picked:
                    idx = self.decode(raw)
                    if not self.excluded(idx):
                        picked.add(raw)
                        yield idx
                        if len(picked) == n:
                            return

    def _draw(self, rng: Random, k: int) -> list[int]:
        """``k`` distinct raw positions. ``random.sample`` needs a range whose length fits a C size; past
        that (a grid of 2^63 and more) positions are drawn one by one, with a repeat now and then."""
        if self.raw_size <= sys.maxsize:
            return rng.sample(range(self.raw_size), k)
        return [rng.randrange(self.raw_size) for _ in range(k)]

    def pairwise(self, seed: int = 0) -> list[Index]:
        """Cases that together hold every coverable pair of values of any two axes."""
        axes = range(len(self.sizes))
        if len(self.sizes) < 2:  # no pairs: every value of the one axis, as many as pairwise may cover at most
            if self.raw_size > MAX_PAIRS:
                raise GridTooLarge(f"pairwise over one axis lists each of its {self.raw_size} values "
                                   f"(at most {MAX_PAIRS}); sample randomly instead")
            return list(self)
        pairs = sum(self.sizes[a] * self.sizes[b] for a, b in combinations(axes, 2))
        if pairs > MAX_PAIRS:
            raise GridTooLarge(f"pairwise would have to cover {pairs} value pairs (at most {MAX_PAIRS}); "
                               "sample randomly instead")
        rng = Random(seed)
        uncovered = {
            (a, va, b, vb)
            for a, b in combinations(axes, 2)
            for va in range(self.sizes[a])
            for vb in range(self.sizes[b])
        }
        cases: list[Index] = []
        # the least uncovered pair, found by walking the pairs in order once (pairs only ever get
        # covered, so the next in order still uncovered is the least): min() over the set each time
        # made this quadratic (a 100 x 100 grid took 4 s, 300 x 300 x 3 eight minutes)
        ordered = ((a, va, b, vb) for a, b in combinations(axes, 2)
                   for va in range(self.sizes[a]) for vb in range(self.sizes[b]))
        for pair in ordered:
            if pair not in uncovered:
                continue
            a, va, b, vb = pair
            case = self._complete({a: va, b: vb}, uncovered, rng)
            if case is None:
                uncovered.discard((a, va, b, vb))  # only excluded cases hold this pair
                continue
            cases.append(case)
            for x, y in combinations(axes, 2):
                uncovered.discard((x, case[x], y, case[y]))
        return cases

    def _complete(self, partial: dict[int, int], uncovered: set[tuple[int, int, int, int]],
                  rng: Random) -> Index | None:
        case = dict(partial)
        for axis in range(len(self.sizes)):
            if axis in case:
                continue
            best, best_gain = 0, -1
            for v in range(self.sizes[axis]):
                gain = sum(
                    ((o, case[o], axis, v) if o < axis else (axis, v, o, case[o])) in uncovered for o in case
                )
                if gain > best_gain:
                    best, best_gain = v, gain
            case[axis] = best
        idx = tuple(case[a] for a in range(len(self.sizes)))
        if not self.excluded(idx):
            return idx
        free = [a for a in range(len(self.sizes)) if a not in partial]
        for _ in range(200):  # repair: random values for the free axes
            for a in free:
                case[a] = rng.randrange(self.sizes[a])
            idx = tuple(case[a] for a in range(len(self.sizes)))
            if not self.excluded(idx):
                return idx
        return None
