"""A small OpenAPI 3.0 checker for Stripe's spec subset (openapi-subset.json).

Two jobs:
  (a) ``Spec.validate(value, schema)`` → list of error strings (empty = valid).
      Supports $ref, type, properties, required, nullable, enum, anyOf, oneOf,
      items, additionalProperties, maxLength, pattern. An object schema without
      ``additionalProperties`` allows extra keys (OpenAPI's default), which is how
      Stripe's response schemas are written.
  (b) ``Spec.check_params(schema, params)`` checks a parsed form request
      (formcodec.parse_form) against an operation's parameter schema the way
      Stripe's API does, and returns the params converted to their types
      ("25000" → 25000, "true" → True, {"0": "card"} → ["card"]). The first
      problem raises ``ParamError(message, param, code)`` with Stripe's wording:
      unknown parameter (at any depth), missing required param, invalid integer,
      invalid enum value, too long, empty value for a param that cannot be unset.

The subset is Stripe's spec of 2023-08-16, three years older than the API the
service pins (STRIPE-FACTS §12). ``Spec(doc)`` therefore patches in, in one
visible place (``NEWER_*`` below), what the newer API has and the subset lacks,
and adds the confirm operation the subset does not contain. ``Spec(doc,
newer=False)`` gives the untouched subset.

The spec file is found at: the ``path`` argument, else $STRIPE_OPENAPI_SUBSET,
else the vendored copy next to this file (stripe-openapi-subset.json.gz, a
byte-identical gzip of /work/shared/stripe/openapi-subset.json), else
/work/shared/stripe/openapi-subset.json.
"""

import copy
import gzip
import json
import os
import re
from pathlib import Path

VENDORED_SPEC = Path(__file__).with_name("stripe-openapi-subset.json.gz")
SHARED_SPEC = Path("/work/shared/stripe/openapi-subset.json")

# --- What the 2026 API has and the 2023-08-16 subset lacks (STRIPE-FACTS §12) ---
_IF_AVAILABLE = {"type": "string", "enum": ["if_available", "never"]}
NEWER_CARD_OPTIONS = {name: dict(_IF_AVAILABLE) for name in (
    "request_extended_authorization", "request_incremental_authorization",
    "request_multicapture", "request_overcapture")}
# operationId → {path of an object inside the params schema: extra properties}
NEWER_REQUEST_PARAMS = {
    "PostPaymentIntents": {("payment_method_options", "card"): NEWER_CARD_OPTIONS},
    "PostPaymentIntentsIntent": {("payment_method_options", "card"): NEWER_CARD_OPTIONS},
    "PostPaymentIntentsIntentConfirm": {("payment_method_options", "card"): NEWER_CARD_OPTIONS},
    "PostPaymentIntentsIntentCapture": {(): {"final_capture": {"type": "boolean"}}},
}
# (component schema, property) → enum values added since the subset
NEWER_RESPONSE_ENUMS = {("payment_intent", "cancellation_reason"): ["expired"]}

# The confirm endpoint (what Stripe.js calls) is not in the subset. Its params are
# taken from the create operation's, plus client_secret (publishable-key callers).
CONFIRM_PATH = "/v1/payment_intents/{intent}/confirm"
CONFIRM_PARAMS_FROM_CREATE = (
    "capture_method", "error_on_requires_action", "expand", "mandate_data", "off_session",
    "payment_method", "payment_method_data", "payment_method_options", "receipt_email",
    "return_url", "setup_future_usage", "shipping", "use_stripe_sdk")


class ParamError(ValueError):
    """A request parameter Stripe would refuse (HTTP 400, invalid_request_error)."""

    def __init__(self, message, param=None, code=None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def load_document(path=None):
    candidates = [path, os.environ.get("STRIPE_OPENAPI_SUBSET"), VENDORED_SPEC, SHARED_SPEC]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            opener = gzip.open if str(candidate).endswith(".gz") else open
            with opener(candidate, "rt", encoding="utf-8") as handle:
                return json.load(handle)
    raise FileNotFoundError("Stripe OpenAPI subset not found (see openapi_check.py docstring)")


_SPEC_CACHE = {}


def load_spec(path=None, newer=True):
    key = (str(path), newer)
    if key not in _SPEC_CACHE:
        _SPEC_CACHE[key] = Spec(load_document(path), newer=newer)
    return _SPEC_CACHE[key]


class Spec:
    def __init__(self, doc, newer=True):
        self.doc = copy.deepcopy(doc) if newer else doc
        if newer:
            _add_confirm_operation(self.doc)
            _apply_newer(self)
        self._routes = self._build_routes()

    # ---- lookup ----
    def component(self, name):
        return self.doc["components"]["schemas"][name]

    def deref(self, schema):
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/components/schemas/"):
                raise ValueError(f"unsupported $ref {ref}")
            schema = self.component(ref.rsplit("/", 1)[1])
        return schema

    def operation(self, method, template):
        return self.doc["paths"][template][method.lower()]

    def match(self, method, path):
        """Concrete path → (template, operation, path params), or None."""
        for template, regex in self._routes:
            found = regex.match(path)
            item = self.doc["paths"][template]
            if found and method.lower() in item:
                return template, item[method.lower()], found.groupdict()
        return None

    def _build_routes(self):
        routes = []
        for template in self.doc["paths"]:
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            routes.append((template, re.compile(f"^{pattern}$")))
        routes.sort(key=lambda route: route[0].count("{"))  # literal segments first
        return routes

    def params_schema(self, operation):
        """One object schema for all of an operation's non-path parameters."""
        body = operation.get("requestBody", {}).get("content", {})
        form = body.get("application/x-www-form-urlencoded", {}).get("schema")
        if form and form.get("properties"):
            return form
        if self.takes_form_data(operation):
            return body["multipart/form-data"]["schema"]
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        return {"type": "object", "additionalProperties": False,
                "properties": {p["name"]: p["schema"] for p in query},
                "required": [p["name"] for p in query if p.get("required")]}

    @staticmethod
    def takes_form_data(operation):
        """True for operations whose body is multipart/form-data (POST /v1/files)."""
        return "multipart/form-data" in operation.get("requestBody", {}).get("content", {})

    def response_schema(self, operation, status):
        responses = operation["responses"]
        entry = responses.get(str(status)) or responses["default"]
        return entry["content"]["application/json"]["schema"]

    # ---- (a) value validation ----
    def validate(self, value, schema, path="$"):
        errors = []
        self._validate(value, schema, path, errors)
        return errors

    def _validate(self, value, schema, path, errors):
        schema = self.deref(schema)
        if value is None:
            if not schema.get("nullable"):
                errors.append(f"{path}: null is not allowed")
            return
        if "anyOf" in schema or "oneOf" in schema:
            self._validate_variants(value, schema, path, errors)
            return
        kind = _schema_type(schema)
        if kind and not _TYPE_CHECKS[kind](value):
            errors.append(f"{path}: expected {kind}, got {type(value).__name__}")
            return
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
        if isinstance(value, str):
            _check_string(value, schema, path, errors)
        elif isinstance(value, dict):
            self._validate_object(value, schema, path, errors)
        elif isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                self._validate(item, schema["items"], f"{path}[{index}]", errors)

    def _validate_variants(self, value, schema, path, errors):
        variants = schema.get("anyOf") or schema.get("oneOf")
        results = [self.validate(value, variant, path) for variant in variants]
        matches = sum(1 for result in results if not result)
        if "oneOf" in schema and matches > 1:
            errors.append(f"{path}: matches {matches} oneOf variants")
        elif matches == 0:
            errors.extend(min(results, key=len) or [f"{path}: matches no variant"])

    def _validate_object(self, value, schema, path, errors):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: missing required property {name!r}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                self._validate(item, properties[key], f"{path}.{key}", errors)
            elif extra is False:
                errors.append(f"{path}: unexpected property {key!r}")
            elif isinstance(extra, dict):
                self._validate(item, extra, f"{path}.{key}", errors)

    # ---- (b) form parameter checking ----
    def check_params(self, schema, params):
        return self._coerce(params, schema, "")

    def _coerce(self, value, schema, name):
        schema = self.deref(schema)
        if "anyOf" in schema or "oneOf" in schema:
            return self._coerce_variants(value, schema.get("anyOf") or schema.get("oneOf"), name)
        kind = _schema_type(schema)
        if value == "" and kind not in (None, "string"):
            raise ParamError(_empty_message(name), name, "parameter_invalid_empty")
        converter = {"integer": _to_integer, "number": _to_number, "boolean": _to_boolean,
                     "string": _to_string, "object": self._to_object,
                     "array": self._to_array}.get(kind)
        result = converter(value, schema, name) if converter else value
        if "enum" in schema and result not in schema["enum"]:
            raise ParamError(f"Invalid {name}: must be one of {_choices(schema['enum'])}", name)
        return result

    def _coerce_variants(self, value, variants, name):
        fitting = sorted(variants, key=lambda v: 0 if self._shape_fits(value, v) else 1)
        first_error = None
        for variant in fitting:
            try:
                return self._coerce(value, variant, name)
            except ParamError as exc:
                first_error = first_error or exc
        raise first_error

    def _shape_fits(self, value, schema):
        kind = _schema_type(self.deref(schema))
        return isinstance(value, (dict, list)) == (kind in ("object", "array"))

    def _to_object(self, value, schema, name):
        if not isinstance(value, dict):
            raise ParamError(f"Invalid object: {name} must be a hash of parameters", name)
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", not properties)
        for key in value:
            if key not in properties and extra is False:
                child = _child(name, key)
                raise ParamError(f"Received unknown parameter: {child}", child, "parameter_unknown")
        for key in schema.get("required", []):
            if key not in value:
                child = _child(name, key)
                raise ParamError(f"Missing required param: {child}.", child, "parameter_missing")
        result = {}
        for key, item in value.items():
            child_schema = properties.get(key, extra if isinstance(extra, dict) else {})
            result[key] = self._coerce(item, child_schema, _child(name, key))
        return result

    def _to_array(self, value, schema, name):
        if isinstance(value, dict) and all(k.isdigit() for k in value):
            value = [value[k] for k in sorted(value, key=int)]
        if not isinstance(value, list):
            raise ParamError(f"Invalid array: {name} must be an array", name)
        items = schema.get("items", {})
        return [self._coerce(item, items, f"{name}[{i}]") for i, item in enumerate(value)]


def _schema_type(schema):
    if "type" in schema:
        return schema["type"]
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    return None


_TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _check_string(value, schema, path, errors):
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: does not match {schema['pattern']!r}")


def _child(name, key):
    return f"{name}[{key}]" if name else key


def _choices(values):
    shown = [v for v in values if v != ""] or ["''"]
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + ", or " + shown[-1]


def _empty_message(name):
    return (f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
            f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
            "from your request or supply a non-empty value.")


def _scalar_text(value, name, what):
    if not isinstance(value, str):
        raise ParamError(f"Invalid {what}: {name} must be a single value, not a hash or array",
                         name, "parameter_invalid_integer" if what == "integer" else None)
    return value


def _to_integer(value, schema, name):
    text = _scalar_text(value, name, "integer")
    if not re.fullmatch(r"-?\d+", text):
        raise ParamError(f"Invalid integer: {text}", name, "parameter_invalid_integer")
    return int(text)


def _to_number(value, schema, name):
    text = _scalar_text(value, name, "decimal")
    try:
        return float(text)
    except ValueError:
        raise ParamError(f"Invalid decimal: {text}", name) from None


def _to_boolean(value, schema, name):
    text = _scalar_text(value, name, "boolean")
    if text not in ("true", "false"):
        raise ParamError(f"Invalid boolean: {text}", name)
    return text == "true"


def _to_string(value, schema, name):
    text = _scalar_text(value, name, "string")
    if "maxLength" in schema and len(text) > schema["maxLength"]:
        raise ParamError(f"Invalid {name}: must be at most {schema['maxLength']} characters", name)
    return text


# ---- patches for the newer API ----
def _add_confirm_operation(doc):
    create = doc["paths"]["/v1/payment_intents"]["post"]
    form = create["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    properties = {k: form["properties"][k] for k in CONFIRM_PARAMS_FROM_CREATE}
    properties["client_secret"] = {"type": "string", "maxLength": 5000}
    operation = copy.deepcopy(create)
    operation["operationId"] = "PostPaymentIntentsIntentConfirm"
    operation["x-double-synthetic"] = "not in the 2023-08-16 subset; params taken from create"
    operation["parameters"] = [{"in": "path", "name": "intent", "required": True,
                                "schema": {"type": "string", "maxLength": 5000}}]
    operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"] = {
        "type": "object", "additionalProperties": False, "properties": properties}
    doc["paths"][CONFIRM_PATH] = {"post": operation}


def _apply_newer(spec):
    operations = {op.get("operationId"): op for item in spec.doc["paths"].values()
                  for op in item.values() if isinstance(op, dict)}
    for op_id, patches in NEWER_REQUEST_PARAMS.items():
        schema = spec.params_schema(operations[op_id])
        for path, extra in patches.items():
            _object_at(spec, schema, path)["properties"].update(copy.deepcopy(extra))
    for (component, prop), values in NEWER_RESPONSE_ENUMS.items():
        spec.component(component)["properties"][prop]["enum"].extend(values)


def _object_at(spec, schema, path):
    """Follow property names (through anyOf) to the object schema they name."""
    for name in path:
        schema = spec.deref(schema)["properties"][name]
        schema = next((v for v in schema.get("anyOf", [schema])
                       if _schema_type(spec.deref(v)) == "object"), schema)
    return spec.deref(schema)
