"""Running tallies behind the regulator overview (on the shared metadata; migration 0008).

The national overview counts every pack by state and holder and every event by month and business
step. Scanning a national projection for that takes seconds; these two tables keep the counts as
the ledger is written, so the overview reads a few hundred rows instead of millions.

* ``pack_tallies`` — packs (24-character codes, product type ``P``) per (state, holder), with the
  sums of their rated energy (kWh) and mass (kg) (``objects.rated_kwh`` / ``mass_kg``);
* ``event_tallies`` — events that are not declarations per (month of event time, business step,
  reporter).

The write transaction keeps them exact, in the same transaction as the rows they count
(``persistence/tallies.py``, which also says why not triggers); ``tallies.rebuild`` recounts them
after writes that bypass it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, String, Table, Text

from battrace.persistence.schema import metadata

pack_tallies = Table(
    "pack_tallies",
    metadata,
    Column("state", String(16), primary_key=True),
    Column("holder", Text, primary_key=True),  # '' for none
    Column("packs", BigInteger, nullable=False),
    Column("kwh", Float, nullable=False),
    Column("kg", Float, nullable=False),
)

event_tallies = Table(
    "event_tallies",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM of event time (UTC)
    Column("biz_step", Text, primary_key=True),  # '' for none
    Column("reporter", String(18), primary_key=True),
    Column("events", BigInteger, nullable=False),
)
