#!/usr/bin/python3
"""ChittyID double for ChittyCharge: mints CHITTY-<TYPE>-<14 upper alnum> ids.

API (CONTRACT.md "ChittyID"):
  POST /v1/mint   Authorization: Bearer <--token>; body {"entity_type": "AUTH", "metadata": {…}}
                  → 200 {"chitty_id": "CHITTY-AUTH-…", "entity_type": "AUTH"}
  GET  /health    → 200 {"status": "ok"}
Control (no auth): POST /_test/mode, GET|DELETE /_test/requests, GET /_test/minted,
POST /_test/reset, GET /_test/health. See README.md.
"""

import json
import secrets
import string
import threading
import time

from double_http import Response, Router, main_guard, new_parser, run

ID_ALPHABET = string.ascii_uppercase + string.digits
ID_LENGTH = 14
MODES = ("up", "down", "slow", "error", "reset")
MAX_ENTITY_TYPE = 32


def mint_id(entity_type):
    return f"CHITTY-{entity_type}-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def _error(status, message, code):
    return Response.json(status, {"error": message, "code": code})


class ChittyIdApp:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Lock()
        self.api = Router()
        self.api.add("POST", "/v1/mint", self._mint)
        self.api.add("GET", "/health", lambda request: Response.json(200, {"status": "ok"}))
        self.control = Router()
        for method, path, handler in (
                ("GET", "/_test/health", lambda body: {"status": "ok"}),
                ("POST", "/_test/mode", self._c_mode),
                ("GET", "/_test/requests", lambda body: list(self.requests)),
                ("DELETE", "/_test/requests", self._c_clear_requests),
                ("GET", "/_test/minted", lambda body: list(self.minted)),
                ("POST", "/_test/reset", self._c_reset)):
            self.control.add(method, path, handler)
        self._c_reset({})

    def __call__(self, request):
        if request.path.startswith("/_test/"):
            return self._control(request)
        return self._api(request)

    # ------------------------------------------------------------ service API
    def _api(self, request):
        with self.lock:
            mode, delay_ms = self.mode, self.delay_ms
            entry = self._log(request)
        response = self._answer(request, mode, delay_ms)
        with self.lock:
            entry["status"] = None if response.drop else response.status
            if response.status == 200 and request.path == "/v1/mint":
                entry["chitty_id"] = json.loads(response.body)["chitty_id"]
        return response

    def _answer(self, request, mode, delay_ms):
        if mode == "down":
            return _error(503, "ChittyID is unavailable", "service_unavailable")
        if mode == "reset":
            return Response(0, drop=True)
        if mode == "slow":
            time.sleep(delay_ms / 1000)
        if mode == "error":
            return _error(500, "internal error", "internal_error")
        handler, path_known = self.api.find(request.method, request.path)
        if handler is None:
            return _error(405 if path_known else 404, "no such endpoint",
                          "method_not_allowed" if path_known else "not_found")
        return handler(request)

    def _log(self, request):
        entry = {"time": time.time(), "method": request.method, "path": request.path,
                 "auth": self._auth_state(request), "body": _body_for_log(request),
                 "status": None,
                 "peer": "%s:%s" % tuple(request.client[:2]) if request.client else None}
        self.requests.append(entry)
        return entry

    def _auth_state(self, request):
        header = request.header("Authorization")
        if not header:
            return "none"
        return "ok" if secrets.compare_digest(header, f"Bearer {self.token}") else "invalid"

    def _mint(self, request):
        if self._auth_state(request) != "ok":
            return _error(401, "missing or invalid bearer token", "unauthorized")
        try:
            body = request.json()
        except ValueError:
            return _error(400, "body must be JSON", "invalid_json")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object", "invalid_json")
        entity_type = body.get("entity_type")
        if not entity_type:
            return _error(400, "entity_type is required", "invalid_request")
        if not isinstance(entity_type, str) or not entity_type.isalpha() or \
                not entity_type.isupper() or len(entity_type) > MAX_ENTITY_TYPE:
            return _error(400, "entity_type must be upper-case letters", "invalid_request")
        if not isinstance(body.get("metadata", {}), dict):
            return _error(400, "metadata must be an object", "invalid_request")
        chitty_id = mint_id(entity_type)
        with self.lock:
            self.minted.append({"chitty_id": chitty_id, "entity_type": entity_type,
                                "metadata": body.get("metadata", {}), "time": time.time()})
        return Response.json(200, {"chitty_id": chitty_id, "entity_type": entity_type})

    # ------------------------------------------------------------ control API
    def _control(self, request):
        handler, path_known = self.control.find(request.method, request.path)
        if handler is None:
            return Response.json(405 if path_known else 404, {"error": "no such control endpoint"})
        try:
            body = request.json() if request.method == "POST" else {}
        except ValueError:
            return Response.json(400, {"error": "body must be JSON"})
        if not isinstance(body, dict):
            return Response.json(400, {"error": "body must be a JSON object"})
        with self.lock:
            try:
                return Response.json(200, handler(body))
            except ValueError as exc:
                return Response.json(400, {"error": str(exc)})

    def _c_mode(self, body):
        mode = body.get("mode", "up")
        delay_ms = body.get("delay_ms", 3000)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if not isinstance(delay_ms, int) or isinstance(delay_ms, bool) or delay_ms < 0:
            raise ValueError("delay_ms must be a non-negative integer")
        self.mode, self.delay_ms = mode, delay_ms
        return {"mode": mode, "delay_ms": delay_ms}

    def _c_clear_requests(self, body):
        count = len(self.requests)
        self.requests.clear()
        return {"cleared": count}

    def _c_reset(self, body):
        self.mode, self.delay_ms = "up", 3000
        self.requests, self.minted = [], []
        return {"reset": True}


def _body_for_log(request):
    try:
        return request.json()
    except ValueError:
        return {"_unparsed": request.body.decode("utf-8", "replace")}


def parse_args(argv=None):
    parser = new_parser("ChittyID test double for ChittyCharge (see README.md).")
    parser.add_argument("--token", required=True, help="the Bearer token /v1/mint accepts")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return run(ChittyIdApp(args.token), args)


if __name__ == "__main__":
    main_guard(main)
