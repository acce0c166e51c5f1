"""Fixtures for the doubles' own tests: one Stripe double (with --self-check)
and one ChittyID double per session, reset before every test, and a webhook
receiver. Helpers live in doubles_harness.py (importable by other test dirs)."""

import pytest

from doubles_harness import (TEST_CHITTY_TOKEN, TEST_WEBHOOK_SECRET, CheckedStripe, Client,
                             DoubleProcess, WebhookReceiver)


@pytest.fixture(scope="session")
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture(scope="session")
def stripe_process():
    process = DoubleProcess.stripe("--self-check").start()
    yield process
    assert process.stop() == 0, "the Stripe double must exit 0 on SIGTERM"


@pytest.fixture
def stripe(stripe_process, receiver):
    client = Client(stripe_process.base_url)
    client.control("POST", "/_test/webhooks/drain", {"timeout_ms": 5000})  # no late deliveries
    client.control("POST", "/_test/reset")
    client.control("POST", "/_test/webhooks", {"url": receiver.url, "secret": TEST_WEBHOOK_SECRET})
    receiver.clear()
    yield CheckedStripe(client)
    client.close()


@pytest.fixture(scope="session")
def chittyid_process():
    process = DoubleProcess.chittyid(TEST_CHITTY_TOKEN).start()
    yield process
    assert process.stop() == 0, "the ChittyID double must exit 0 on SIGTERM"


@pytest.fixture
def chittyid(chittyid_process):
    client = Client(chittyid_process.base_url)
    client.control("POST", "/_test/reset")
    yield client
    client.close()
