"""docs/rules.md lists every packaged rule, so operators can see what ships."""

from __future__ import annotations

from pathlib import Path

from battrace.domain.rules import load_rulebooks

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_every_packaged_rule_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    rules = load_rulebooks()
    missing = [r.id for r in rules if f"`{r.id}`" not in text]
    assert not missing, f"add these rules to the table in docs/rules.md: {missing}"
    # Each version has its own row: the table shows the parameters per version.
    rows = [line for line in text.splitlines() if line.startswith(("| `cn-", "| `eu-"))]
    assert len(rows) == len(rules)
