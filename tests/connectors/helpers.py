from __future__ import annotations

import json
from pathlib import Path

# shared/ sits beside the repository (the work tree, and CI's fresh clone alike)
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_names(channel: str) -> list[str]:
    names = sorted(f"{channel}/{p.name}" for p in (FIXTURES / channel).glob("*.json"))
    assert names, f"no fixtures found under {FIXTURES / channel}"
    return names
