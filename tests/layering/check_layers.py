#!/usr/bin/env python3
"""The dependency rule of ARCHITECTURE.md, checked on every #include under src/.

Each room (a folder of src/) may include only the rooms listed for it below; a domain
(holds, webhooks, notify, jobs, gateway) uses another domain through its pure headers,
never its handlers; each C library's header appears only in its one adapter. Run by ctest
(`layering`); prints every breach as FILE:LINE and exits 1 if there is any.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"

# Port interfaces: what any room above the adapters may see of the I/O rooms.
PORTS = {"stripe/stripe_api.h", "chittyid/chittyid_api.h", "store/kv_store.h",
         "httpclient/transport.h", "ledger/ledger.h"}

# room -> rooms whose headers it may include (its own always allowed).
ALLOWED = {
    "core": set(),
    "runtime": {"core"},
    "config": {"core", "store/server_list.h", "claims/currency.h"},
    "http": {"core", "config"} | PORTS,
    "store": {"core"},
    "httpclient": {"core", "runtime"},
    "stripe": {"core", "runtime", "httpclient/transport.h"},
    "chittyid": {"core", "httpclient/transport.h"},
    "claims": {"core"},  # pure building blocks of the claims domain (issue 13)
    "holds": {"core", "http", "config", "stripe", "claims", "chittyid/pending_id.h"} | PORTS,
    "webhooks": {"core", "http", "config", "holds", "stripe"} | PORTS,
    "notify": {"core", "http", "config", "holds"} | PORTS,
    "jobs": {"core", "http", "config", "holds", "notify", "stripe", "claims",
             "chittyid/pending_id.h",
             "webhooks/events.h"} | PORTS,
    "gateway": {"core", "runtime", "http", "config", "claims", "holds", "webhooks", "notify",
                "jobs"} | PORTS,
    "fcgi": {"core", "runtime", "http", "httpclient"},
    "ledger": {"core", "runtime"},
    "app": None,  # the composition root sees everything
}

# A domain's handlers are for the routes table only (gateway/routes.cpp).
HANDLERS = re.compile(r"^(holds|webhooks|notify|jobs)/handlers\.h$")

# C library header prefix -> the only files that may include it.
C_LIBRARIES = {
    "fcgiapp.h": ("fcgi/server.cpp",),
    "fcgi_stdio.h": (),
    "curl/": ("httpclient/curl_transport.cpp",),
    "libmemcached/": ("store/memcached_store.cpp",),
    "openssl/": ("core/crypto.cpp",),
    "libpq-fe.h": ("ledger/pg_connection.cpp",),
    "cairo": ("claims/evidence_pdf.cpp",),
    "qpdf/": ("claims/evidence_pdf.cpp",),
    "jpeglib.h": ("claims/evidence_pdf.cpp",),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def allowed(room, header):
    rule = ALLOWED.get(room, set())
    if rule is None:
        return True
    target_room = header.split("/", 1)[0]
    return target_room == room or target_room in rule or header in rule


def breaches():
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        relative = path.relative_to(SRC).as_posix()
        room = relative.split("/", 1)[0]
        if room not in ALLOWED:
            yield f"src/{relative}: room '{room}' has no rule in tests/layering/check_layers.py"
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            kind, header = match.groups()
            where = f"src/{relative}:{number}"
            if kind == '"':
                if not allowed(room, header):
                    yield f"{where}: room '{room}' may not include \"{header}\""
                elif (HANDLERS.match(header) and header.split("/")[0] != room
                      and relative != "gateway/routes.cpp"):
                    yield f"{where}: \"{header}\" is for the routes table; use the domain's pure headers"
                continue
            for prefix, owners in C_LIBRARIES.items():
                if header.startswith(prefix) and relative not in owners:
                    yield f"{where}: <{header}> belongs to {owners or 'no room yet'}"


def main():
    found = list(breaches())
    for line in found:
        print(line)
    print(f"layering: {len(found)} breach(es)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
