"""Who buys which vehicle, when, where, with what pack — and how long vehicle and pack live.

Every figure comes from the forecast's packaged data (:mod:`battrace.domain.forecast`), so the
simulator and the forecast model describe the same fleet and can be checked against each other:

* vehicles per sale year: CAAM domestic NEV sales (sales − exports, ``sales.toml``);
* segment (passenger BEV/PHEV, commercial BEV/hybrid), chemistry per segment and year, and the
  province of sale per segment group and year: ``segment_shares``, ``chemistry_shares``,
  ``province_shares``;
* pack energy: the reference pack kWh of segment × chemistry times the year's calibration to
  CABIA installed capacity (``pack_energy_factor``); pack mass: BatPaC kg/kWh;
* battery life Weibull(k, λ by segment × chemistry), vehicle life Weibull(k, mean by sale year),
  at most one replacement (the pack fails before the vehicle: it is replaced, and the spare
  leaves with the vehicle) — the Peng/Meng/Tian model the forecast uses (forecast-data §1.1).

What the forecast data does not give is marked ASSUMPTION here (repair rate, cascade life,
cells per module, cell capacities).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import accumulate

from battrace.domain.forecast import (
    Parameters,
    chemistry_shares,
    default_parameters,
    pack_energy_factor,
    province_shares,
    sales_by_year,
    segment_shares,
)
from battrace.simulate.engine import (
    CST,
    Chemistry,
    Design,
    Engine,
    Ent,
    Episode,
    Pack,
    choice,
    later,
)

# Cell voltages and capacity ranges are ASSUMPTION (typical prismatic cells); pack kg/kWh comes
# from the forecast parameters (BatPaC 5.2). Black mass and copper per kWh: the demo's figures
# (LFP; NMC811 for every ternary — BatPaC rows for the others are not in the reference).
_CELL = {"LFP": (3.2, (100.0, 230.0)), "NCA": (3.6, (50.0, 150.0))}
_NCM_CELL = (3.65, (60.0, 180.0))
_BLACK = {"LFP": (2.00 + 0.955, 0.566)}
_NCM_BLACK = (1.30 + 0.854, 0.364)

#: ASSUMPTION: repairs without replacement, per vehicle-year of service.
REPAIR_RATE_PER_YEAR = 0.03
#: ASSUMPTION: second (cascade) life, uniform in years (no source in the reference).
CASCADE_LIFE_YEARS = (3.0, 8.0)
#: ASSUMPTION: cells per module, passenger / commercial packs.
CELLS_PER_MODULE = {"passenger": (8, 24), "commercial": (12, 36)}
_YEAR_DAYS = 365.25


def chemistries(params: Parameters | None = None) -> dict[str, Chemistry]:
    """The simulator's chemistries (the forecast's six), with pack kg/kWh from ``params``."""
    params = params or default_parameters()
    out: dict[str, Chemistry] = {}
    for name, kg in params.pack_kg_per_kwh.items():
        volts, ah = _CELL.get(name, _NCM_CELL)
        black, copper = _BLACK.get(name, _NCM_BLACK)
        letter = "B" if name == "LFP" else "E"  # GB/T 34014 position 5: B LFP, E ternary
        out[name] = Chemistry(name, letter, volts, ah, kg, black, copper)
    return out


def domestic_sales(first: int, last: int) -> dict[int, float]:
    """CAAM domestic NEV sales (vehicles) per year, ``first``..``last``."""
    return {s.year: s.domestic for s in sales_by_year(last) if first <= s.year <= last}


def production_times(
    rng: random.Random, packs: int, weights: Mapping[int, float], start: date, end: date
) -> Iterator[datetime]:
    """``packs`` production start times in [start, end), in order, weighted per year.

    Each day gets its quota (cumulative rounding, so the total is exact) and the day's times are
    drawn in 08:00–12:00: O(1) memory however many packs, unlike sorting all draws.
    """
    days = (end - start).days
    if days <= 0 or packs <= 0:
        return
    daily = []
    for d in range(days):
        year = (start + timedelta(days=d)).year
        w = weights.get(year, 0.0)
        daily.append(w / (366 if year % 4 == 0 else 365))
    total = sum(daily)
    if total <= 0:
        return
    done = 0
    acc = 0.0
    for d, w in enumerate(daily):
        acc += w
        quota = round(packs * acc / total) - done
        if quota <= 0:
            continue
        done += quota
        day = start + timedelta(days=d)
        base = datetime(day.year, day.month, day.day, 8, tzinfo=CST)
        for s in sorted(rng.randrange(4 * 3600) for _ in range(quota)):
            yield base + timedelta(seconds=s)


Shares = tuple[tuple[str, ...], tuple[float, ...]]  # names and cumulative weights


def _cum(shares: Mapping[str, float]) -> Shares:
    return tuple(shares), tuple(accumulate(shares.values()))


def _choose(rng: random.Random, shares: Shares) -> str:
    """``rng.choices(names, weights)[0]`` (the same draw) from shares made by :func:`_cum`."""
    return choice(rng, *shares)


class WeibullPopulation:
    """The simulator's fleet: sales-weighted design and Weibull lives (see the module doc)."""

    def __init__(
        self,
        params: Parameters | None = None,
        *,
        unregistered: Sequence[Ent] = (),
        repair_rate: float = REPAIR_RATE_PER_YEAR,
        cascade_life: tuple[float, float] = CASCADE_LIFE_YEARS,
        province: str | None = None,
    ) -> None:
        self.params = params or default_parameters()
        self.unregistered = list(unregistered)
        self.repair_rate = repair_rate
        self.cascade_life = cascade_life
        self.province = province
        self._kwh: dict[tuple[str, str, int], float] = {}
        self._segments: dict[int, Shares] = {}
        self._chems: dict[tuple[str, int], Shares] = {}
        self._provinces: dict[tuple[str, int], Shares] = {}

    def pack_kwh(self, segment: str, chem: str, year: int) -> float:
        key = (segment, chem, year)
        kwh = self._kwh.get(key)
        if kwh is None:
            kwh = self._kwh[key] = self.params.pack_kwh[(segment, chem)] * pack_energy_factor(
                year, self.params
            )
        return kwh

    def design(self, eng: Engine, rng: random.Random, t0: datetime) -> Design:
        year = t0.year
        seg_shares = self._segments.get(year)
        if seg_shares is None:
            seg_shares = self._segments[year] = _cum(segment_shares(year))
        segment = _choose(rng, seg_shares)
        chem_shares = self._chems.get((segment, year))
        if chem_shares is None:
            chem_shares = self._chems[(segment, year)] = _cum(
                {k: v for k, v in chemistry_shares(segment, year).items() if v > 0}
            )
        chem = _choose(rng, chem_shares)
        if self.province is not None:
            province = self.province
        else:
            prov_shares = self._provinces.get((segment, year))
            if prov_shares is None:
                prov_shares = self._provinces[(segment, year)] = _cum(
                    province_shares(segment, year)
                )
            province = _choose(rng, prov_shares)
        maker = eng.pick(rng, "battery_maker")
        if self.unregistered and eng.policy.inject("code-not-registered"):
            maker = rng.choice(self.unregistered)
        spec = eng.chemistries[chem]
        cell_ah = round(rng.uniform(*spec.cell_ah), 1)
        cell_kwh = spec.cell_voltage_v * cell_ah / 1000.0
        target = self.pack_kwh(segment, chem, year) / cell_kwh
        group = "commercial" if segment.startswith("commercial") else "passenger"
        per_module = rng.randint(*CELLS_PER_MODULE[group])
        n_mod = min(99, max(1, round(target / per_module)))
        return Design(chem, maker, n_mod, per_module, cell_ah, segment, province)

    def lives(self, rng: random.Random, segment: str, chem: str, year: int) -> tuple[float, float]:
        """(battery life, vehicle life) in years, drawn from the forecast's Weibulls."""
        p = self.params
        battery = rng.weibullvariate(p.battery_scale_for(segment, chem, year), p.battery_shape)
        vehicle = rng.weibullvariate(p.vehicle_scale_for(segment, year), p.vehicle_shape)
        return battery, vehicle

    def service(self, eng: Engine, rng: random.Random, pack: Pack, sold: datetime) -> list[Episode]:
        segment = pack.segment or "passenger_bev"
        battery, vehicle = self.lives(rng, segment, pack.chem, sold.year)
        plan: list[Episode] = []
        end = min(vehicle, (eng.cutoff - sold).days / _YEAR_DAYS)
        replace_at: datetime | None = None
        if battery < vehicle and battery < end:
            # The pack fails first: replaced (at most once); the spare leaves with the vehicle.
            replace_at = later(rng, sold + timedelta(days=battery * _YEAR_DAYS), 0, 0)
            swap = rng.random() < eng.flows.swap_share and segment == "passenger_bev"
            plan.append(Episode(replace_at, "replace", swap=swap))
        if self.repair_rate > 0:
            age = rng.expovariate(self.repair_rate)
            while age < end:
                when = later(rng, sold + timedelta(days=age * _YEAR_DAYS), 0, 0)
                if replace_at is None or abs((when - replace_at).days) > 40:
                    plan.append(Episode(when, "repair"))
                age += rng.expovariate(self.repair_rate)
        plan.sort(key=lambda e: e.when)
        scrap = sold + timedelta(days=vehicle * _YEAR_DAYS)
        if scrap < eng.cutoff:  # nothing is deferred past the end: it would only fill the disk
            plan.append(Episode(later(rng, scrap, 0, 0), "scrap"))
        return plan

    def cascade_end(self, eng: Engine, rng: random.Random, start: datetime) -> datetime | None:
        years = rng.uniform(*self.cascade_life)
        when = start + timedelta(days=years * _YEAR_DAYS)
        return later(rng, when, 0, 0) if when < eng.cutoff else None


def expected_retirements(
    vehicles: Mapping[int, float], params: Parameters | None = None, *, until: int
) -> dict[int, float]:
    """Packs the forecast model expects to retire per calendar year from ``vehicles`` sold per
    year (all passenger BEV LFP — for cross-checks of the sampled lives against the model)."""
    from battrace.domain.forecast import CohortKind, retirement_curve

    params = params or default_parameters()
    out: dict[int, float] = {}
    for year, n in vehicles.items():
        curve = retirement_curve(
            params, "passenger_bev", "LFP", year, until - year + 1, CohortKind.VEHICLES
        )
        for k, share in enumerate(curve):
            out[year + k] = out.get(year + k, 0.0) + n * share
    return out
