"""The README's "Try it" examples run verbatim against a stack started with the README's
defaults (sandbox mode, the sandbox token); only the port differs."""

import json
import pathlib
import re
import subprocess

import pytest

from conftest import REPO, launched_stack


def _readme_blocks():
    text = (REPO / "README.md").read_text()
    section = text.split("## Try it (sandbox)", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def readme_stack():
    # As `bash scripts/run.sh` runs from the README: no client tokens configured.
    yield from launched_stack({"CHITTYCHARGE_API_TOKENS": "", "CHITTY_ID_TOKEN": "",
                               "RATE_LIMIT_PER_MINUTE": "10"}, prefix="chittycharge-readme-")


def _json_lines(output):
    """Each curl prints one JSON document (no newline); echo prints the hold id."""
    docs = []
    decoder = json.JSONDecoder()
    i = 0
    while i < len(output):
        if output[i] == "{":
            doc, i = decoder.raw_decode(output, i)
            docs.append(doc)
        else:
            i += 1
    return docs


def test_the_readme_examples_work_verbatim(readme_stack):
    blocks = _readme_blocks()
    assert len(blocks) == 6, "create, status, partial capture, full capture, cancel, list"
    script = "set -euo pipefail\n" + "\n".join(blocks)
    script = script.replace("127.0.0.1:8080", f"127.0.0.1:{readme_stack.http_port}")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    docs = _json_lines(done.stdout)
    assert [d.get("status") for d in docs[:4]] == [
        "requires_capture", "succeeded", "succeeded", "canceled"], docs
    status, partial, full, canceled, listed = docs
    assert status["amount"] == 25000 and status["property_id"] == "prop_123"
    assert status["metadata"] == {"booking_id": "4711", "guest_tier": "NEW_GUEST"}
    assert partial["amount_captured"] == 7500 and partial["id"] == status["id"]
    assert full["amount_captured"] == 50000
    assert canceled["canceled_at"] is not None
    assert status["id"] in [h["id"] for h in listed["data"]]
