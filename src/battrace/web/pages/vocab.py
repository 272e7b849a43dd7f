"""Display names of the ledger's vocabulary (states, business steps, roles), translatable."""

from __future__ import annotations

from typing import Final

from battrace.web.i18n import N_, Translator

STATES: Final = {
    "produced": N_("Produced"),
    "assembled": N_("Assembled"),
    "installed": N_("Installed in a vehicle"),
    "in_service": N_("In service"),
    "removed": N_("Removed"),
    "retired": N_("Retired"),
    "collected": N_("Collected"),
    "in_transit": N_("In transit"),
    "cascade_use": N_("Cascade use"),
    "dismantled": N_("Dismantled"),
    "recycled": N_("Recycled"),
    "disposed": N_("Disposed"),
    "scrapped": N_("Scrapped"),
    "unknown": N_("Unknown"),
}

STEPS: Final = {
    "commissioning": N_("Produced and coded"),
    "assembling": N_("Assembled"),
    "installing": N_("Installed in a vehicle"),
    "retail_selling": N_("Vehicle sold"),
    "vehicle_selling": N_("Vehicle sold"),
    "repairing": N_("Repaired"),
    "removing": N_("Removed from the vehicle"),
    "replacing": N_("Installed as a replacement"),
    "decommissioning": N_("Retired or vehicle scrapped"),
    "vehicle_scrapping": N_("Vehicle scrapped"),
    "shipping": N_("Shipped"),
    "receiving": N_("Received"),
    "accepting": N_("Received"),
    "collecting": N_("Collected by a recycling service outlet"),
    "inspecting": N_("Residual capacity tested"),
    "sensor_reporting": N_("Residual capacity tested"),
    "cascade_recoding": N_("Re-coded for cascade use"),
    "disassembling": N_("Dismantled"),
    "recycling": N_("Recycled into materials"),
    "destroying": N_("Disposed of"),
}

ROLES: Final = {
    "battery_maker": N_("Battery maker"),
    "automaker": N_("Automaker"),
    "importer": N_("Importer"),
    "dealer": N_("Dealer"),
    "repairer": N_("Repairer"),
    "swap_operator": N_("Battery swap operator"),
    "dismantler": N_("End-of-life vehicle dismantler"),
    "recycling_outlet": N_("Recycling service outlet"),
    "cascade_user": N_("Cascade-use enterprise"),
    "recycler": N_("Recycler"),
    "regulator_national": N_("National regulator"),
    "regulator_provincial": N_("Provincial regulator"),
}

CONFIDENCE: Final = {
    "official": N_("official"),
    "secondary": N_("secondary source"),
    "UNCONFIRMED": N_("unconfirmed"),
    "normative": N_("normative"),
    "informative": N_("informative"),
    "assumption": N_("assumption"),
}


def step_key(biz_step: str | None) -> str:
    """``https://battrace.org/voc/BizStep-recycling`` → ``recycling``; CBV words unchanged."""
    if not biz_step:
        return ""
    tail = biz_step.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return tail.removeprefix("BizStep-")


def state(t: Translator, value: str | None) -> str:
    return t._(STATES[value]) if value in STATES else (value or "—")


def step(t: Translator, biz_step: str | None) -> str:
    key = step_key(biz_step)
    return t._(STEPS[key]) if key in STEPS else (key or "—")


def role(t: Translator, value: str) -> str:
    return t._(ROLES[value]) if value in ROLES else value


def confidence(t: Translator, value: str) -> str:
    return t._(CONFIDENCE[value]) if value in CONFIDENCE else value
