from __future__ import annotations

import json
from pathlib import Path


def _shared_fixtures() -> Path:
    """shared/ sits beside the repository (CI's fresh clone, the main work tree) or beside a
    folder of work trees (/work/wt/<name>): the nearest one up the tree."""
    repo = Path(__file__).resolve().parents[2]
    for folder in repo.parents:
        if (folder / "shared" / "fixtures").is_dir():
            return folder / "shared" / "fixtures"
    return repo.parent / "shared" / "fixtures"


FIXTURES = _shared_fixtures()


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_names(channel: str) -> list[str]:
    names = sorted(f"{channel}/{p.name}" for p in (FIXTURES / channel).glob("*.json"))
    assert names, f"no fixtures found under {FIXTURES / channel}"
    return names


# payloads this project wrote from the public API references (tests/fixtures/channels/README.md)
OWN_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"


def own_fixture(name: str):
    return json.loads((OWN_FIXTURES / name).read_text(encoding="utf-8"))
