"""Stripe's search query language, the part PaymentIntent search needs.

Supported (docs.stripe.com/search):
- clauses ``field:value``, numeric ``field>N  field<N  field>=N  field<=N``,
  ``field:N``; negation with a leading ``-``;
- fields of PaymentIntent search: ``amount``, ``created`` (numbers),
  ``currency``, ``customer``, ``status``, ``metadata['key']`` / ``metadata["key"]``
  (strings, quoted with ' or ", backslash escapes; exact match, case-insensitive);
- clauses joined by whitespace or ``AND`` (case-insensitive), or all by ``OR``;
  AND and OR may not be mixed (as in Stripe).
Anything else (``~`` substring match, parentheses, unknown fields, unquoted
strings) raises SearchError → HTTP 400.

``parse_query(text)`` returns a predicate over a PaymentIntent dict.
"""

import re

_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_CLAUSE = re.compile(
    rf"(?P<neg>-)?"
    rf"(?:metadata\[(?P<mkey>{_QUOTED})\]|(?P<field>[A-Za-z_]+))"
    rf"(?P<op>>=|<=|:|>|<|~)"
    rf"(?P<value>{_QUOTED}|-?\d+)")
_JOIN = re.compile(r"\s+(?:(?P<word>AND|OR)\s+)?", re.IGNORECASE)

NUMBER_FIELDS = ("amount", "created")
STRING_FIELDS = ("currency", "customer", "status")


class SearchError(ValueError):
    pass


def parse_query(text):
    clauses, joins = _split(text.strip())
    if not clauses:
        raise SearchError("The query is empty.")
    if len(set(joins)) > 1:
        raise SearchError("AND and OR operators cannot be combined in one query.")
    combine = any if joins and joins[0] == "OR" else all
    return lambda intent: combine(clause(intent) for clause in clauses)


def _split(text):
    clauses, joins, position = [], [], 0
    while position < len(text):
        match = _CLAUSE.match(text, position)
        if not match:
            raise SearchError(f"Unsupported search syntax at position {position}: "
                              f"{text[position:]!r}")
        clauses.append(_clause(match))
        position = match.end()
        if position == len(text):
            break
        join = _JOIN.match(text, position)
        if not join:
            raise SearchError(f"Expected AND, OR or a space at position {position}: "
                              f"{text[position:]!r}")
        joins.append((join.group("word") or "AND").upper())
        position = join.end()
    return clauses, joins


def _clause(match):
    op, raw = match.group("op"), match.group("value")
    if match.group("mkey") is not None:
        key = _unquote(match.group("mkey"))
        test = _string_test("metadata", op, raw, lambda pi: pi["metadata"].get(key))
    elif match.group("field") in NUMBER_FIELDS:
        field = match.group("field")
        test = _number_test(field, op, raw, lambda pi: pi[field])
    elif match.group("field") in STRING_FIELDS:
        field = match.group("field")
        test = _string_test(field, op, raw, lambda pi: pi[field])
    else:
        raise SearchError(f"{match.group('field')!r} is not a supported search field for "
                          "payment_intents.")
    if match.group("neg"):
        return lambda pi: not test(pi)
    return test


def _unquote(quoted):
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


def _string_test(field, op, raw, getter):
    if op != ":":
        raise SearchError(f"The operator {op!r} is not supported for the field {field!r}.")
    if raw[0] not in "'\"":
        raise SearchError(f"String values must be quoted ({field}:{raw}).")
    wanted = _unquote(raw).casefold()
    return lambda pi: isinstance(getter(pi), str) and getter(pi).casefold() == wanted


_COMPARE = {":": lambda a, b: a == b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
            ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}


def _number_test(field, op, raw, getter):
    if op not in _COMPARE:
        raise SearchError(f"The operator {op!r} is not supported for the field {field!r}.")
    text = _unquote(raw) if raw[0] in "'\"" else raw
    if not re.fullmatch(r"-?\d+", text):
        raise SearchError(f"{field} must be compared with an integer, got {text!r}.")
    number, compare = int(text), _COMPARE[op]
    return lambda pi: compare(getter(pi), number)
