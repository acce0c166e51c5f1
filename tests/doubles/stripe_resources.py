"""Small helpers shared by the claims resources of the Stripe double (files,
refunds, charges, disputes): list answers with Stripe's pagination and
``created`` filter, and the ``expand[]`` check. Pure functions."""

from stripe_model import created_matches, invalid_request, paginate


def list_answer(url, newest_first, params, kind, render):
    """``newest_first``: Stripe objects (dicts with ``id`` and ``created``)."""
    items = [o for o in newest_first if created_matches(o["created"], params.get("created"))]
    page, more = paginate(items, lambda o: o["id"], params, kind)
    return {"object": "list", "url": url, "has_more": more, "data": [render(o) for o in page]}


def check_expand(expand, allowed, prefix=""):
    """Every path must be ``prefix`` + one of ``allowed`` (else Stripe's 400)."""
    for path in expand:
        if not path.startswith(prefix) or path[len(prefix):] not in allowed:
            raise invalid_request(f"This property cannot be expanded ({path}).", executed=False)


def inner_expand(params):
    """``expand[]=data.x`` of a list → ``x`` for each item."""
    return [path[len("data."):] for path in params.get("expand", ()) if path.startswith("data.")]
