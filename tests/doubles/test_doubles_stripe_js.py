"""The Stripe.js stand-in the double serves at GET /v3/ (docs/guest-page.md): its /v1 calls
are aimed at the prefix a same-origin proxy forwards (X-Forwarded-Prefix), else at the
double's own origin; a prefix that is not a plain path is not echoed into the script. The
confirm it makes (publishable key + client secret) is test_doubles.py's
test_publishable_key_only_on_confirm_and_needs_client_secret; the page's use of it is
tests/integration/test_guest_page.py."""


def script(stripe, headers=None):
    reply = stripe.client.request("GET", "/v3/", headers=headers or {})
    assert reply.status == 200, reply.body[:300]
    assert reply.header("Content-Type").startswith("text/javascript")
    return reply.body.decode()


def test_the_stand_in_is_served_with_the_calls_the_guest_page_makes(stripe):
    text = script(stripe)
    for call in ("window.Stripe = Stripe", "confirmCardPayment", "confirmCardSetup",
                 "Elements.prototype.create", "CardElement.prototype.mount"):
        assert call in text
    assert f"var API_BASE = 'https://127.0.0.1:{stripe.client.port}';" in text
    assert "@@API_BASE@@" not in text


def test_a_proxy_prefix_is_used_only_when_it_is_a_plain_path(stripe):
    assert "var API_BASE = '/stripe-sandbox';" in script(
        stripe, {"X-Forwarded-Prefix": "/stripe-sandbox"})
    hostile = script(stripe, {"X-Forwarded-Prefix": "/x';alert(1);'"})
    assert "alert(1)" not in hostile
    assert f"var API_BASE = 'https://127.0.0.1:{stripe.client.port}';" in hostile
