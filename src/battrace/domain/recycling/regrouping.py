"""Regrouping retired modules into second-life packs of like capacity and resistance.

A second-life pack of ``k`` modules in series (× ``p`` in parallel) is only as good as its weakest
module: the lowest capacity limits the usable charge and the highest resistance heats first. So the
task is to pick, among modules of one chemistry and one specification, disjoint sets of exactly
``k·p`` modules whose capacity and resistance are as close as possible, and to leave out modules
that cannot be matched within the consistency tolerance rather than spoil a pack with them.

Three methods share one result type so they can be compared on the same data
(``python -m bench regroup``):

* :func:`regroup` -- battrace's method ("sweep-match": a capacity-ordered sweep matching each
  module with its nearest neighbours in capacity and resistance, documented in
  ``docs/recycling.md``): every pack it forms is within the tolerance of :class:`PackSpec`.
* :func:`regroup_sort_chunk` -- baseline: sort by capacity, cut into consecutive packs.
* :func:`regroup_kmeans` -- baseline: k-means in the (capacity, resistance) plane, seeded, then
  sort-and-chunk inside each cluster (the workflow the literature describes, forecast-data §4).

Spread of a pack, for capacity and for resistance alike, is ``(max - min) / mean``. The mean is a
correctly rounded sum (:func:`math.fsum`), so the figure does not depend on module order and the
tolerance check and the reported figure can never disagree in the last bit.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from battrace.domain.errors import InvalidInput

__all__ = [
    "Pack",
    "PackSpec",
    "RegroupResult",
    "RegroupSummary",
    "RetiredModule",
    "regroup",
    "regroup_kmeans",
    "regroup_sort_chunk",
    "spread",
    "summarise",
]

# Defaults of PackSpec. No normative regrouping tolerance was found (forecast-data.md §4 lists only
# clustering methods), so both are ASSUMPTIONS, chosen as typical consistency limits for
# second-life packs; a deployment sets its own in PackSpec.
DEFAULT_MAX_CAPACITY_SPREAD = 0.05
DEFAULT_MAX_RESISTANCE_SPREAD = 0.10


@dataclass(frozen=True, slots=True)
class RetiredModule:
    """One retired module after residual-capacity testing (GB/T 34015)."""

    id: str
    chemistry: str
    specification: str
    capacity_ah: float
    resistance_mohm: float


@dataclass(frozen=True, slots=True)
class PackSpec:
    """Pack topology and the consistency tolerance every pack formed by :func:`regroup` meets.

    ``max_capacity_spread`` and ``max_resistance_spread`` are fractions ((max - min) / mean).
    """

    series: int
    parallel: int = 1
    max_capacity_spread: float = DEFAULT_MAX_CAPACITY_SPREAD
    max_resistance_spread: float = DEFAULT_MAX_RESISTANCE_SPREAD

    def __post_init__(self) -> None:
        for name in ("series", "parallel"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(name, f"must be a whole number >= 1, got {value!r}")
        for name in ("max_capacity_spread", "max_resistance_spread"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise InvalidInput(name, f"must be a finite fraction > 0, got {value!r}")

    @property
    def size(self) -> int:
        """Modules per pack."""
        return self.series * self.parallel


@dataclass(frozen=True, slots=True)
class Pack:
    """A complete pack. ``layout[i]`` are the modules wired in parallel at series position ``i``."""

    chemistry: str
    specification: str
    layout: tuple[tuple[str, ...], ...]
    capacity_spread: float
    resistance_spread: float

    @property
    def module_ids(self) -> tuple[str, ...]:
        return tuple(mid for position in self.layout for mid in position)


@dataclass(frozen=True, slots=True)
class RegroupResult:
    """Packs formed by one method; ``unused`` are the ids placed in no pack, sorted."""

    method: str
    spec: PackSpec
    packs: tuple[Pack, ...]
    unused: tuple[str, ...]

    def within_tolerance(self, pack: Pack) -> bool:
        return (
            pack.capacity_spread <= self.spec.max_capacity_spread
            and pack.resistance_spread <= self.spec.max_resistance_spread
        )


@dataclass(frozen=True, slots=True)
class RegroupSummary:
    """Figures for comparing methods. Spreads are over all packs formed (0.0 when there are none);
    ``share_within_tolerance`` counts only modules in packs that meet the spec's tolerance, i.e.
    packs that would pass a consistency check and can actually be used."""

    method: str
    modules: int
    packs: int
    packs_within_tolerance: int
    share_in_packs: float
    share_within_tolerance: float
    mean_capacity_spread: float
    worst_capacity_spread: float
    mean_resistance_spread: float
    worst_resistance_spread: float
    #: Mean over packs of max(capacity spread / tolerance, resistance spread / tolerance): one
    #: figure for both axes, <= 1.0 for a pack within the tolerance.
    mean_normalised_spread: float


def spread(values: Sequence[float]) -> float:
    """``(max - min) / mean`` of positive values; 0.0 for a single value."""
    if not values:
        raise InvalidInput("values", "spread of an empty set is undefined")
    return (max(values) - min(values)) / (math.fsum(values) / len(values))


def summarise(result: RegroupResult, modules: int) -> RegroupSummary:
    """Summarise ``result`` for ``modules`` input modules (the denominator of the shares)."""
    if modules <= 0:
        raise InvalidInput("modules", "must be > 0")
    size = result.spec.size
    good = sum(1 for pack in result.packs if result.within_tolerance(pack))
    caps = [pack.capacity_spread for pack in result.packs]
    ress = [pack.resistance_spread for pack in result.packs]
    tc, tr = result.spec.max_capacity_spread, result.spec.max_resistance_spread
    norm = [max(c / tc, r / tr) for c, r in zip(caps, ress, strict=True)]

    def mean(xs: list[float]) -> float:
        return math.fsum(xs) / len(xs) if xs else 0.0

    return RegroupSummary(
        method=result.method,
        modules=modules,
        packs=len(result.packs),
        packs_within_tolerance=good,
        share_in_packs=len(result.packs) * size / modules,
        share_within_tolerance=good * size / modules,
        mean_capacity_spread=mean(caps),
        worst_capacity_spread=max(caps, default=0.0),
        mean_resistance_spread=mean(ress),
        worst_resistance_spread=max(ress, default=0.0),
        mean_normalised_spread=mean(norm),
    )


# --------------------------------------------------------------------------------------------
# Shared plumbing: validation, partitioning, building Pack objects.


class _Data:
    """Column arrays of the validated input; indices into them stand for modules."""

    __slots__ = ("cap", "ids", "partitions", "rank", "res")

    def __init__(self, modules: Sequence[RetiredModule]) -> None:
        self.ids: list[str] = []
        self.cap: list[float] = []
        self.res: list[float] = []
        seen: set[str] = set()
        partitions: dict[tuple[str, str], list[int]] = {}
        for n, module in enumerate(modules):
            where = f"modules[{n}]"
            if not isinstance(module.id, str) or not module.id:
                raise InvalidInput(f"{where}.id", "must be a non-empty string")
            if module.id in seen:
                raise InvalidInput(f"{where}.id", f"duplicate module id {module.id!r}")
            seen.add(module.id)
            for name in ("chemistry", "specification"):
                if not isinstance(getattr(module, name), str) or not getattr(module, name):
                    raise InvalidInput(f"{where}.{name}", "must be a non-empty string")
            for name in ("capacity_ah", "resistance_mohm"):
                value = getattr(module, name)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not math.isfinite(value)
                    or value <= 0
                ):
                    raise InvalidInput(
                        f"{where}.{name}", f"must be a finite number > 0, got {value!r}"
                    )
            self.ids.append(module.id)
            self.cap.append(float(module.capacity_ah))
            self.res.append(float(module.resistance_mohm))
            partitions.setdefault((module.chemistry, module.specification), []).append(n)
        # Sorted keys so that the output order does not depend on the input order.
        self.partitions = dict(sorted(partitions.items()))
        self.rank = [0] * len(self.ids)
        for r, i in enumerate(sorted(range(len(self.ids)), key=self.ids.__getitem__)):
            self.rank[i] = r

    def by_capacity(self, idx: Iterable[int]) -> list[int]:
        # Sort by id first, then (stably) by capacity: ties in capacity are broken by id, which
        # makes every method independent of input order.
        order = sorted(idx, key=self.rank.__getitem__)
        order.sort(key=self.cap.__getitem__)
        return order

    def spreads(self, group: Sequence[int]) -> tuple[float, float]:
        return spread([self.cap[i] for i in group]), spread([self.res[i] for i in group])

    def fits(self, group: Sequence[int], spec: PackSpec) -> bool:
        cs, rs = self.spreads(group)
        return cs <= spec.max_capacity_spread and rs <= spec.max_resistance_spread

    def pack(self, key: tuple[str, str], group: Sequence[int], spec: PackSpec) -> Pack:
        cs, rs = self.spreads(group)
        return Pack(key[0], key[1], self._layout(group, spec), cs, rs)

    def _layout(self, group: Sequence[int], spec: PackSpec) -> tuple[tuple[str, ...], ...]:
        ordered = sorted(group, key=lambda j: (-self.cap[j], self.ids[j]))
        if spec.parallel == 1:
            return tuple((self.ids[i],) for i in ordered)
        # Series positions carry the same current, so the string's charge is limited by the
        # position with the smallest summed capacity. Largest-first into the currently smallest
        # position (LPT) evens the sums.
        positions: list[list[int]] = [[] for _ in range(spec.series)]
        sums = [0.0] * spec.series
        for i in ordered:
            target = min(
                (s for s in range(spec.series) if len(positions[s]) < spec.parallel),
                key=lambda s: (sums[s], s),
            )
            positions[target].append(i)
            sums[target] += self.cap[i]
        return tuple(tuple(self.ids[i] for i in position) for position in positions)


def _result(
    method: str,
    data: _Data,
    spec: PackSpec,
    groups: Iterable[tuple[tuple[str, str], Sequence[int]]],
) -> RegroupResult:
    packs = [data.pack(key, group, spec) for key, group in groups]
    used = {mid for pack in packs for mid in pack.module_ids}
    unused = tuple(sorted(mid for mid in data.ids if mid not in used))
    return RegroupResult(method, spec, tuple(packs), unused)


# --------------------------------------------------------------------------------------------
# Baselines.


def regroup_sort_chunk(modules: Sequence[RetiredModule], spec: PackSpec) -> RegroupResult:
    """Baseline: per chemistry and specification, sort by capacity and cut consecutive packs.

    Uses every module but the last ``n mod k·p`` of each partition, whatever the spread."""
    data = _Data(modules)
    m = spec.size
    groups: list[tuple[tuple[str, str], Sequence[int]]] = []
    for key, idx in data.partitions.items():
        order = data.by_capacity(idx)
        groups.extend((key, order[s : s + m]) for s in range(0, len(order) - m + 1, m))
    return _result("sort-chunk", data, spec, groups)


def regroup_kmeans(
    modules: Sequence[RetiredModule],
    spec: PackSpec,
    *,
    clusters: int = 8,
    seed: int = 0,
    max_iterations: int = 30,
) -> RegroupResult:
    """Baseline: k-means (k-means++ start, Lloyd iterations, seeded) on z-scored (capacity,
    resistance) per partition, then sort-and-chunk inside each cluster; a cluster's remainder of
    fewer than ``k·p`` modules is left unused."""
    if clusters < 1:
        raise InvalidInput("clusters", "must be >= 1")
    data = _Data(modules)
    m = spec.size
    rng = random.Random(seed)
    groups: list[tuple[tuple[str, str], Sequence[int]]] = []
    for key, idx in data.partitions.items():
        order = data.by_capacity(idx)
        k = max(1, min(clusters, len(order) // m))
        labels = _kmeans(
            [data.cap[i] for i in order], [data.res[i] for i in order], k, rng, max_iterations
        )
        members: list[list[int]] = [[] for _ in range(k)]
        for i, label in zip(order, labels, strict=True):
            members[label].append(i)  # stays in capacity order
        for cluster in members:
            groups.extend((key, cluster[s : s + m]) for s in range(0, len(cluster) - m + 1, m))
    return _result("k-means", data, spec, groups)


def _zscore(xs: list[float]) -> list[float]:
    mean = math.fsum(xs) / len(xs)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / len(xs))
    return [(x - mean) / sd for x in xs] if sd > 0 else [0.0] * len(xs)


def _kmeans(
    cap: list[float], res: list[float], k: int, rng: random.Random, max_iterations: int
) -> list[int]:
    xs, ys = _zscore(cap), _zscore(res)
    n = len(xs)
    # k-means++ seeding: each next centre drawn with probability proportional to squared distance.
    first = rng.randrange(n)
    cx, cy = [xs[first]], [ys[first]]
    d2 = [(x - cx[0]) ** 2 + (y - cy[0]) ** 2 for x, y in zip(xs, ys, strict=True)]
    while len(cx) < k:
        total = math.fsum(d2)
        if total == 0.0:
            break  # fewer distinct points than clusters
        pick = rng.random() * total
        acc, chosen = 0.0, n - 1
        for j, d in enumerate(d2):
            acc += d
            if acc >= pick:
                chosen = j
                break
        cx.append(xs[chosen])
        cy.append(ys[chosen])
        d2 = [
            min(d, (x - xs[chosen]) ** 2 + (y - ys[chosen]) ** 2)
            for d, x, y in zip(d2, xs, ys, strict=True)
        ]
    k = len(cx)
    labels = [-1] * n
    for _ in range(max_iterations):
        changed = False
        centres = list(zip(cx, cy, strict=True))
        for j in range(n):
            x, y = xs[j], ys[j]
            best, best_d = 0, math.inf
            for c, (u, v) in enumerate(centres):
                d = (x - u) * (x - u) + (y - v) * (y - v)
                if d < best_d:
                    best, best_d = c, d
            if labels[j] != best:
                labels[j] = best
                changed = True
        if not changed:
            break
        sx, sy, cnt = [0.0] * k, [0.0] * k, [0] * k
        for j, label in enumerate(labels):
            sx[label] += xs[j]
            sy[label] += ys[j]
            cnt[label] += 1
        for c in range(k):
            if cnt[c]:  # an emptied cluster keeps its old centre
                cx[c], cy[c] = sx[c] / cnt[c], sy[c] / cnt[c]
    return labels


# --------------------------------------------------------------------------------------------
# battrace's method.


def regroup(modules: Sequence[RetiredModule], spec: PackSpec) -> RegroupResult:
    """Form packs within ``spec``'s tolerance, as many as the sweep finds, with small spreads.

    Per chemistry and specification: the sweep (:func:`_sweep`) over all modules. Should it form
    fewer packs than sort-and-chunk forms *within* the tolerance, those sort-and-chunk packs are
    kept instead and the sweep runs over the remaining modules.

    Guarantees (tested as properties): packs are complete, no module is used twice, chemistry and
    specification are never mixed, every pack meets the capacity and resistance tolerance, per
    partition at least as many packs are formed as sort-and-chunk forms within the tolerance, and
    the result does not depend on the order of ``modules``.
    """
    data = _Data(modules)
    groups: list[tuple[tuple[str, str], Sequence[int]]] = []
    for key, idx in data.partitions.items():
        groups.extend((key, group) for group in _regroup_partition(data, idx, spec))
    return _result("sweep-match", data, spec, groups)


def _regroup_partition(data: _Data, idx: list[int], spec: PackSpec) -> list[list[int]]:
    m = spec.size
    if len(idx) < m:
        return []
    order = data.by_capacity(idx)
    packs = _sweep(data, order, spec)
    # Sort-and-chunk's packs that already fit are the floor: this is what guarantees that the
    # method never forms fewer usable packs than the baseline. On the benchmark the sweep is far
    # above it; it matters for near-uniform stock, where consecutive modules already match.
    chunked = [order[s : s + m] for s in range(0, len(order) - m + 1, m)]
    kept = [group for group in chunked if data.fits(group, spec)]
    if len(kept) <= len(packs):
        return packs
    kept_ids = {i for group in kept for i in group}
    return kept + _sweep(data, [i for i in order if i not in kept_ids], spec)


def _sweep(data: _Data, idx: list[int], spec: PackSpec) -> list[list[int]]:
    """Sweep in capacity order; match each anchor with its nearest neighbours.

    The anchor is the module of smallest capacity not yet decided. It can only share a pack with
    modules of capacity up to ``anchor × (1 + capacity tolerance)``, all of which are in ``pool``,
    sorted by resistance. Its ``k·p - 1`` nearest neighbours in normalised distance
    ``max(Δcapacity / (capacity × tolerance), Δresistance / (resistance × tolerance))`` are found
    by walking outwards from the anchor's place in the pool; if anchor and neighbours fit, that is
    a pack. If not, the ``k·p`` windows of consecutive resistance around the anchor are tried (all
    fit on capacity by construction of the pool). If neither fits, the anchor is left unused: all
    modules it could still share a pack with are in the pool, and neither its nearest neighbours
    nor any resistance window around it make a pack within tolerance (a heuristic, not a proof
    that no such pack exists).
    """
    m = spec.size
    if len(idx) < m:
        return []
    cap, res, rank = data.cap, data.res, data.rank
    tc, tr = spec.max_capacity_spread, spec.max_resistance_spread
    order = data.by_capacity(idx)
    # (resistance, id rank, index), sorted. Ties in resistance go by id, not by input position,
    # so that the result does not depend on the order modules were given in.
    pool: list[tuple[float, int, int]] = []
    alive = dict.fromkeys(order, True)
    packs: list[list[int]] = []
    need = m - 1
    # Bound on the neighbours examined per anchor. The walk normally stops long before (once the
    # resistance distance alone exceeds the worst neighbour kept); the bound only matters when
    # thousands of modules share one resistance value, where a full walk would be quadratic.
    scan_limit = 32 * m
    nxt = 0
    for anchor in order:
        if not alive[anchor]:
            continue
        ca, ra = cap[anchor], res[anchor]
        upper = ca * (1.0 + tc)
        while nxt < len(order) and cap[order[nxt]] <= upper:
            item = order[nxt]
            if alive[item]:
                key = (res[item], rank[item], item)
                pool.insert(bisect_left(pool, key), key)
            nxt += 1
        pos = bisect_left(pool, (ra, rank[anchor], anchor))

        group = _nearest(pool, pos, need, ca, ra, cap, tc, tr, scan_limit)
        if group is None or not data.fits(group, spec):
            group = None
            best = math.inf
            for s in range(max(0, pos - m + 1), min(pos, len(pool) - m) + 1):
                window = [i for _, _, i in pool[s : s + m]]
                cs, rs = data.spreads(window)
                if cs <= tc and rs <= tr and max(cs / tc, rs / tr) < best:
                    group, best = window, max(cs / tc, rs / tr)
        if group is None:
            del pool[pos]
            alive[anchor] = False
            continue
        for i in group:
            alive[i] = False
            del pool[bisect_left(pool, (res[i], rank[i], i))]
        packs.append(group)
    return packs


def _nearest(
    pool: list[tuple[float, int, int]],
    pos: int,
    need: int,
    ca: float,
    ra: float,
    cap: list[float],
    tc: float,
    tr: float,
    scan_limit: int,
) -> list[int] | None:
    """The anchor at ``pool[pos]`` and its ``need`` nearest pool neighbours (see :func:`_sweep`),
    or None if the pool is too small."""
    if need == 0:
        return [pool[pos][2]]  # one-module packs
    if len(pool) <= need:
        return None
    sr, sc = 1.0 / (ra * tr), 1.0 / (ca * tc)
    heap: list[tuple[float, int, int]] = []  # (-distance, -rank, index): a max-heap
    size = len(pool)
    lo, hi = pos - 1, pos + 1
    inf = math.inf
    dlo = (ra - pool[lo][0]) * sr if lo >= 0 else inf
    dhi = (pool[hi][0] - ra) * sr if hi < size else inf
    worst = inf  # distance of the farthest neighbour kept, once there are `need`
    for _ in range(min(scan_limit, size - 1)):
        # Step to whichever side is nearer in resistance (the pool's sort key).
        if dlo <= dhi:
            dr, entry = dlo, pool[lo]
            lo -= 1
            dlo = (ra - pool[lo][0]) * sr if lo >= 0 else inf
        else:
            dr, entry = dhi, pool[hi]
            hi += 1
            dhi = (pool[hi][0] - ra) * sr if hi < size else inf
        if dr >= worst:
            break  # every module further out is farther in resistance alone
        i = entry[2]
        dc = (cap[i] - ca) * sc
        d = dc if dc > dr else dr
        if len(heap) < need:
            heapq.heappush(heap, (-d, -entry[1], i))
            if len(heap) == need:
                worst = -heap[0][0]
        elif d < worst or (d == worst and -entry[1] > heap[0][1]):
            # Nearer than the farthest kept (ties: the lower id rank, for determinism).
            heapq.heapreplace(heap, (-d, -entry[1], i))
            worst = -heap[0][0]
    if len(heap) < need:
        return None
    return [pool[pos][2], *(i for _, _, i in heap)]
