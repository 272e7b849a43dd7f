"""Cascade use (梯次利用) and recycling (再生利用): grading, regrouping, materials, mass balance.

Pure domain code: no I/O beyond the packaged data files in ``data/`` (read through
:mod:`importlib.resources`). See ``docs/recycling.md`` for defaults, sources and methods.

* :mod:`.grading` -- residual-capacity test result -> vehicle / cascade band / recycle / pretreat
* :mod:`.regrouping` -- retired modules -> second-life packs of like capacity and resistance
* :mod:`.materials` -- element content of batteries by chemistry and of recycled products
* :mod:`.massbalance` -- element balance and recovery rates per recycler and period, checked
  against the CN 2024 whitelist conditions and EU 2023/1542 Annex XII
"""

from battrace.domain.recycling.grading import (
    PRETREAT,
    RECYCLE,
    VEHICLE,
    CascadeBand,
    GradeResult,
    GradingPolicy,
    ResidualCapacityTest,
    default_grading_policy,
    grade,
)
from battrace.domain.recycling.massbalance import (
    Check,
    ElementBalance,
    Finding,
    InputLot,
    MassBalanceReport,
    OutputLot,
    Target,
    default_targets,
    load_targets,
    mass_balance,
)
from battrace.domain.recycling.materials import (
    ELEMENTS,
    chemistry_data,
    element_fractions,
    lot_element_kg,
    molar_mass,
    normalise_chemistry,
)
from battrace.domain.recycling.regrouping import (
    Pack,
    PackSpec,
    RegroupResult,
    RegroupSummary,
    RetiredModule,
    regroup,
    regroup_kmeans,
    regroup_sort_chunk,
    summarise,
)

__all__ = [
    "ELEMENTS",
    "PRETREAT",
    "RECYCLE",
    "VEHICLE",
    "CascadeBand",
    "Check",
    "ElementBalance",
    "Finding",
    "GradeResult",
    "GradingPolicy",
    "InputLot",
    "MassBalanceReport",
    "OutputLot",
    "Pack",
    "PackSpec",
    "RegroupResult",
    "RegroupSummary",
    "ResidualCapacityTest",
    "RetiredModule",
    "Target",
    "chemistry_data",
    "default_grading_policy",
    "default_targets",
    "element_fractions",
    "grade",
    "load_targets",
    "lot_element_kg",
    "mass_balance",
    "molar_mass",
    "normalise_chemistry",
    "regroup",
    "regroup_kmeans",
    "regroup_sort_chunk",
    "summarise",
]
