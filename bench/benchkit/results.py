"""The results file: every subcommand appends one JSON object per line (--results)."""
from __future__ import annotations

import json
from pathlib import Path


def append(results: str, record: dict) -> None:
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


def load(results: str) -> list[dict]:
    return [json.loads(l) for l in Path(results).read_text().splitlines() if l.strip()]
