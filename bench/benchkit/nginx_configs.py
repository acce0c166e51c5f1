"""The nginx configs the benchmark renders: the upstream doubles' (render-upstream, from
upstream.conf.template, for a given Stripe latency) and variants of the stack's own
rendered nginx.conf on other ports (nginx-variant)."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path


CREATED = 1767225600


def _payment_intent(status: str, pi_expr: str, captured: bool = False) -> dict:
    """A Stripe-shaped PaymentIntent (API 2026 field set, values canned)."""
    amount = 25000
    charge = None
    if status in ("requires_capture", "succeeded"):
        charge = {
            "id": "ch_3Bench" + "0" * 17,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if captured else 0,
            "captured": captured,
            "currency": "usd",
            "paid": True,
            "status": "succeeded",
            "payment_intent": pi_expr,
            "payment_method": "pm_1BenchVisa0000000000000",
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": "visa",
                    "last4": "4242",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "capture_before": CREATED + 7 * 86400,
                    "extended_authorization": {"status": "disabled"},
                    "incremental_authorization": {"status": "unavailable"},
                    "multicapture": {"status": "unavailable"},
                    "overcapture": {"status": "unavailable"},
                },
            },
        }
    return {
        "id": pi_expr,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount if status == "requires_capture" else 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "manual",
        "client_secret": pi_expr + "_secret_bench0000000000000000",
        "confirmation_method": "automatic",
        "created": CREATED,
        "currency": "usd",
        "customer": None,
        "description": "Security deposit, booking 4711",
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": charge,
        "livemode": False,
        "metadata": {
            "booking_id": "4711",
            "chitty_id": "CHITTY-AUTH-${request_id}" if status == "requires_payment_method"
            else "CHITTY-AUTH-BENCHCAPTURED01",
            "client": "bench",
            "guest_tier": "NEW_GUEST",
            "property_id": "prop_123",
            "tier": "NEW_GUEST",
        },
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None if status == "requires_payment_method" else "pm_1BenchVisa0000000000000",
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {"installments": None, "mandate_options": None, "network": None,
                     "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": "guest@example.com",
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def render_upstream(args: argparse.Namespace) -> None:
    text = Path(args.template).read_text()
    delay_ms = int(args.delay_ms)
    if delay_ms > 0:
        reply = f"echo_sleep {delay_ms / 1000:.3f}; echo"
    else:
        reply = "return 200"
    bodies = {
        "@PI_CREATE@": _payment_intent("requires_payment_method", "pi_${request_id}"),
        "@PI_AUTHORIZED@": _payment_intent("requires_capture", "${pi}"),
        "@PI_CAPTURED@": _payment_intent("succeeded", "${pi}", captured=True),
    }
    for marker, obj in bodies.items():
        body = json.dumps(obj, separators=(",", ":"))
        assert "'" not in body and "\\" not in body
        text = text.replace(marker, body)
    repl = {
        "@RUN_DIR@": args.run_dir,
        "@STRIPE_PORT@": str(args.stripe_port),
        "@CHITTYID_PORT@": str(args.chittyid_port),
        "@DELAY_MS@": str(delay_ms),
        "@STRIPE_REPLY@": reply,
    }
    for k, v in repl.items():
        text = text.replace(k, v)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        sys.exit(f"benchlib: unrendered placeholders {left}")
    Path(args.out).write_text(text)


def nginx_variant(args: argparse.Namespace) -> None:
    """A copy of the stack's rendered nginx.conf on other ports, for nginx-side levers:
    keep_conn (fastcgi_keep_conn + upstream keepalive) or no_access_log."""
    text = Path(args.conf).read_text()
    run_dir, vdir = args.run_dir, args.out_dir
    text = text.replace(f"listen 127.0.0.1:{args.http_port};", f"listen 127.0.0.1:{args.port};")
    text = text.replace(f"listen 127.0.0.1:{args.https_port} ssl", f"listen 127.0.0.1:{int(args.port) + 1} ssl")
    text = text.replace(f"pid {run_dir}/nginx.pid;", f"pid {vdir}/nginx.pid;")
    text = text.replace(f"error_log {run_dir}/error.log", f"error_log {vdir}/error.log")
    if args.variant == "no_access_log":
        text = re.sub(r"access_log [^;]*;", "access_log off;", text)
    else:
        text = text.replace(f"access_log {run_dir}/access.log", f"access_log {vdir}/access.log")
    if args.variant == "bare":
        sock = re.search(r"fastcgi_pass unix:([^;]+);", text).group(1)
        text = text.replace(f"fastcgi_pass unix:{sock};", f"fastcgi_pass unix:{args.bare_socket};")
    if args.variant == "keep_conn":
        sock = re.search(r"fastcgi_pass unix:([^;]+);", text).group(1)
        text = text.replace(f"fastcgi_pass unix:{sock};", "fastcgi_pass cc_pool;")
        text = text.replace("fastcgi_request_buffering on;", "fastcgi_request_buffering on;\n        fastcgi_keep_conn on;")
        text = text.replace("http {", "http {\n    upstream cc_pool {\n        server unix:" + sock
                            + ";\n        keepalive " + str(args.keepalive) + ";\n    }", 1)
    Path(args.out).write_text(text)
