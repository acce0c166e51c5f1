"""Stripe's form encoding (OpenAPI style=deepObject, explode=true), both ways.

``parse_form("metadata[k]=v&payment_method_types[]=card&expand[0]=latest_charge")``
gives ``{"metadata": {"k": "v"}, "payment_method_types": ["card"],
"expand": {"0": "latest_charge"}}``: every value stays a string, ``[]`` builds a
list, a numeric segment stays a dict key (``metadata[0]`` is a metadata key named
"0"); whoever knows the schema turns ``{"0": …}`` into a list (see
openapi_check.check_params). Keys and values are percent-decoded ('+' is a space),
brackets may be raw or encoded (the official SDKs leave them raw).

``encode_form`` produces what stripe-node sends: ``a[b][0]=x``, spaces as %20.
"""

import re
from urllib.parse import quote, unquote_plus

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A parameter name whose brackets cannot be merged with the others."""

    def __init__(self, name):
        super().__init__(f"Invalid request: the parameter {name!r} conflicts with another "
                         "parameter.")
        self.param = name


def parse_form(text):
    pairs = []
    for pair in text.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        pairs.append((unquote_plus(raw_key), unquote_plus(raw_value)))
    return parse_pairs(pairs)


def parse_pairs(pairs):
    """Decoded (bracketed name, value) pairs → nested params, as ``parse_form``
    (the multipart/form-data body of the Files API arrives as pairs)."""
    root = {}
    for key, value in pairs:
        _assign(root, split_key(key), value, key)
    return root


def split_key(key):
    """``a[b][]`` → ``["a", "b", ""]``; a malformed name stays one literal segment."""
    match = _KEY_RE.match(key)
    if not match:
        return [key]
    return [match.group(1)] + _SEGMENT_RE.findall(match.group(2))


def _new_container(next_segment):
    return [] if next_segment == "" else {}


def _assign(container, segments, value, name):
    head, rest = segments[0], segments[1:]
    if head == "":
        if not isinstance(container, list):
            raise FormError(name)
        if not rest:
            container.append(value)
            return
        child = _new_container(rest[0])
        container.append(child)
        _assign(child, rest, value, name)
        return
    if isinstance(container, list):
        raise FormError(name)
    if not rest:
        container[head] = value
        return
    child = container.get(head)
    if not isinstance(child, (dict, list)):
        child = _new_container(rest[0])
        container[head] = child
    elif (rest[0] == "") != isinstance(child, list):
        raise FormError(name)
    _assign(child, rest, value, name)


def flatten(params, prefix=""):
    """Nested params → list of (bracketed name, string value)."""
    items = []
    if isinstance(params, dict):
        for key, value in params.items():
            items += flatten(value, f"{prefix}[{key}]" if prefix else str(key))
    elif isinstance(params, (list, tuple)):
        for index, value in enumerate(params):
            items += flatten(value, f"{prefix}[{index}]")
    else:
        items.append((prefix, _scalar(params)))
    return items


def _scalar(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def encode_form(params):
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in flatten(params))
