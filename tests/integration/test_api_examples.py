"""docs/api.md's walk-through of a damage claim (create with a disclosure, evidence,
itemized capture, refund, trail) run as written against the real stack: the sandbox token
and port swapped for the test stack's."""

import os
import pathlib
import re
import subprocess

from conftest import ALPHA_TOKEN

REPO = pathlib.Path(__file__).resolve().parents[2]
HEADING = "## A damage claim, start to end (sandbox)"


def test_the_damage_claim_walk_through_runs_as_written(stack):
    text = (REPO / "docs" / "api.md").read_text()
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "one script"
    script = ("set -euo pipefail\n" + blocks[0].replace("chitty-sandbox-token", ALPHA_TOKEN)
              .replace("127.0.0.1:8080", f"127.0.0.1:{stack.http_port}"))
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          check=False, env=dict(os.environ))
    assert done.returncode == 0, done.stderr + done.stdout
    version, captured, refunded, last = done.stdout.split()
    assert version == stack.api("GET", "/api/disclosure").json["version"]
    assert (captured, refunded) == ("16500", "4500"), done.stdout
    assert last == "refunded", done.stdout
