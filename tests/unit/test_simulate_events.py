"""The simulator's fast paths give exactly what the general code gives: events as the builders
build them (bytes, so key order counts), times as isoformat writes them, codes as formatted one
by one, partner picks as random.choices draws them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from battrace.domain.lifecycle import builders as b
from battrace.simulate import events as ev
from battrace.simulate.engine import CST, Run, choice

SITE = "urn:uscc:91110000MA0000000X:site:s1"
SENDER = "urn:uscc:91110000MA0000000X"
RECEIVER = "urn:uscc:91310000MA1111111Y"
PACK = "ABCPB12L10000105B0000042"
CELLS = ["ABCCB12L10000105B0000001", "ABCCB12L10000105B0000002"]
VIN = "LSVAB2BE7RA000123"
TIMES = [
    datetime(2024, 5, 1, 9, 30, 12, tzinfo=CST),
    datetime(2019, 12, 31, 23, 59, 59, 999_999, tzinfo=CST),
    datetime(2021, 2, 3, 0, 0, 0, 1_500, tzinfo=CST),
    datetime(2024, 5, 1, 1, 30, 12, 250_000, tzinfo=UTC),  # converted to +08:00
    datetime(2024, 5, 1, 9, 30, 12, tzinfo=timezone(timedelta(hours=8))),  # equal, not CST
]


def same(fast: dict[str, object], built: dict[str, object]) -> None:
    assert orjson.dumps(fast) == orjson.dumps(built)


@pytest.mark.parametrize("t", TIMES)
def test_each_fast_event_is_the_builders_event(t: datetime) -> None:
    attrs = {b.CHEMISTRY: "LFP", b.MASS_KG: 301.5, "battrace:application": "storage"}
    same(
        ev.commission(ev.uris(CELLS), SITE, t, ev.ilmd(attrs)),
        b.commission(CELLS, site=SITE, time=t, attributes=attrs),
    )
    same(
        ev.assemble(ev.uri(PACK), ev.uris(CELLS), SITE, t),
        b.assemble(PACK, CELLS, site=SITE, time=t),
    )
    same(ev.install(PACK, VIN, SITE, t), b.install(PACK, VIN, site=SITE, time=t))
    epcs = [b.vehicle_uri(VIN), PACK]
    same(
        ev.ship(ev.uris(epcs), SENDER, RECEIVER, SITE, t, "MA000000-0000007"),
        b.ship(
            epcs, sender=SENDER, receiver=RECEIVER, site=SITE, time=t, desadv="MA000000-0000007"
        ),
    )
    same(
        ev.receive(ev.uris(epcs), SENDER, RECEIVER, SITE, t, "MA000000-0000007"),
        b.receive(
            epcs, site=SITE, time=t, sender=SENDER, receiver=RECEIVER, desadv="MA000000-0000007"
        ),
    )
    same(
        ev.sell(VIN, PACK, SITE, t, "MA111111-0000009"),
        b.sell(VIN, PACK, site=SITE, time=t, invoice="MA111111-0000009"),
    )


def test_times_are_written_as_isoformat_writes_them() -> None:
    rng = random.Random(5)
    start = datetime(2015, 1, 1, tzinfo=CST)
    for _ in range(5_000):
        t = start + timedelta(microseconds=rng.randrange(12 * 366 * 86_400 * 10**6))
        assert ev.iso(t) == t.isoformat(timespec="milliseconds")
        assert ev.stamp(t) == b.timestamp(t)
    for t in TIMES:
        assert ev.iso(t) == t.isoformat(timespec="milliseconds")
        assert ev.stamp(t) == b.timestamp(t)


@pytest.mark.parametrize(
    ("first", "count"), [(1, 96), (998, 5), (999_950, 120), (9_999_000, 1_000), (0, 2_500)]
)
def test_runs_of_codes_are_numbered_as_one_by_one(first: int, count: int) -> None:
    run = Run("ABCCB12L10000105B", first, count)
    expected = [f"ABCCB12L10000105B{k:07d}" for k in range(first, first + count)]
    assert run.codes() == expected
    assert run.codes(1, 4) == expected[1:4]
    assert run.uris() == ["urn:gbt34014:" + c for c in expected]


def test_choice_draws_as_random_choices() -> None:
    members = list("abcdefg")
    cum = [0.5, 0.5, 2.0, 2.25, 7.0, 7.0, 9.5]  # zero weights included
    fast, slow = random.Random(11), random.Random(11)
    for _ in range(2_000):
        assert choice(fast, members, cum) == slow.choices(members, cum_weights=cum)[0]
    assert fast.random() == slow.random()  # the same number of draws


def test_vins_are_made_as_make_vin_makes_them() -> None:
    from battrace.domain.identities.vin import make_vin
    from battrace.simulate.engine import _VIN_YEARS, _vin

    rng = random.Random(4)
    for wmi in ("LSV", "LFV", "L6T", "WBA"):
        for letter in "BE":
            for year in _VIN_YEARS[:16]:
                for serial in [
                    1,
                    999_999,
                    100_000,
                    *(rng.randrange(1, 1_000_000) for _ in range(40)),
                ]:
                    expected = make_vin(wmi, "EV" + letter + "A1", year, "A", serial)
                    assert _vin(wmi, letter, year, serial) == expected


def test_delays_and_working_seconds_from_tables_equal_the_products() -> None:
    from battrace.simulate.engine import _WORKING_SECONDS
    from battrace.simulate.simulation import _MS_HIGH, _MS_LOW

    t = datetime(2024, 5, 1, 9, 30, 12, tzinfo=CST)
    rng = random.Random(5)
    for k in [0, 1, 16_383, 16_384, (1 << 28) - 1, *(rng.randrange(1 << 28) for _ in range(500))]:
        assert t + _MS_HIGH[k >> 14] + _MS_LOW[k & 0x3FFF] == t + timedelta(milliseconds=1) * k
    assert all(_WORKING_SECONDS[s] == timedelta(seconds=s) for s in range(0, 32_400, 7))


def test_packs_come_back_from_the_calendar_as_they_went() -> None:
    import pickle

    from battrace.simulate.engine import Pack

    pack = Pack(PACK, Run("ABCCB12L10000105B", 7, 96), Run("ABCMB12L10000105B", 3, 8), 12,
                "LFP", 4, 150.5, 46.08, 295.3, "passenger_bev")  # fmt: skip
    back = pickle.loads(pickle.dumps(pack, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == pack and back.cells.codes() == pack.cells.codes()
