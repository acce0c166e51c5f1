"""GET /api/disclosure through the real stack (CONTRACT.md, Part 2, "Disclosure")."""

from conftest import assert_error


def test_the_current_wording_is_served_to_clients_only(stack):
    answer = stack.api("GET", "/api/disclosure")
    assert answer.status == 200, answer
    assert set(answer.json) == {"version", "text"}
    assert answer.json["version"] == "2026-12-01"
    text = answer.json["text"]
    for part in ("{amount}", "{property}", "not a charge", "released"):
        assert part in text, part
    assert_error(stack.api("GET", "/api/disclosure", token=None), 401, "unauthorized")
