"""multipart/form-data (RFC 7578) both ways, for the Files API of the Stripe double.

``parse_form_data(body, content_type)`` → list of (name, value) pairs in body
order: a plain field's value is its text (UTF-8), a part with a ``filename`` (or
a ``Content-Type`` of its own) is a ``FilePart``. Anything malformed raises
``MultipartError`` with a one-line reason; the bytes are never decoded as text,
so binary files (PDF, JPEG, PNG) come back byte for byte.

``FilePart`` is a ``str`` so that it can travel through the double's parameter
pipeline (schema check, idempotency fingerprint, request log) like any other
param: its text names the file and its SHA-256, and ``.data`` holds the bytes.

``encode_form_data(fields, files)`` builds a body the way stripe-node's
``multipart.ts`` does (CRLF line ends, ``Content-Disposition: form-data;
name="…"``, files with ``filename`` and ``Content-Type``); tests use it.

Standard library only.
"""

import hashlib
import re
import secrets

MAX_BOUNDARY = 70
_PARAM_RE = re.compile(r';\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class MultipartError(ValueError):
    """The body is not valid multipart/form-data."""


class FilePart(str):
    """A file field: behaves as a short descriptive string, carries the bytes."""

    def __new__(cls, data, filename=None, content_type=None):
        digest = hashlib.sha256(data).hexdigest()
        text = f"{filename or ''} ({content_type or 'no type'}, {len(data)} bytes, sha256 {digest})"
        part = super().__new__(cls, text)
        part.data = bytes(data)
        part.filename = filename
        part.content_type = content_type
        return part


def is_form_data(content_type):
    return (content_type or "").split(";")[0].strip().lower() == "multipart/form-data"


def boundary_of(content_type):
    params = _header_params(content_type or "")
    boundary = params.get("boundary")
    if not boundary:
        raise MultipartError("the Content-Type has no boundary parameter")
    if len(boundary) > MAX_BOUNDARY or boundary.endswith(" "):
        raise MultipartError("the boundary is longer than 70 characters or ends with a space")
    return boundary.encode("latin-1", "replace")


def parse_form_data(body, content_type):
    """→ [(name, str | FilePart)] in body order; raises MultipartError."""
    delimiter = b"--" + boundary_of(content_type)
    if body.startswith(delimiter):
        position = 0
    else:  # a preamble is allowed; the first delimiter then starts a line
        position = body.find(b"\r\n" + delimiter)
        if position < 0:
            raise MultipartError("the body does not contain the boundary")
        position += 2
    pairs = []
    while True:
        position += len(delimiter)
        if body[position:position + 2] == b"--":
            return pairs  # close delimiter; anything after it is an epilogue
        position = _skip_line_end(body, position)
        end = body.find(b"\r\n" + delimiter, position)
        if end < 0:
            raise MultipartError("a part is not followed by a boundary (body truncated?)")
        pairs.append(_parse_part(body[position:end]))
        position = end + 2


def _skip_line_end(body, position):
    while body[position:position + 1] in (b" ", b"\t"):  # transport padding
        position += 1
    if body[position:position + 2] != b"\r\n":
        raise MultipartError("a boundary line does not end with CRLF")
    return position + 2


def _parse_part(raw):
    if raw.startswith(b"\r\n"):
        head, content = b"", raw[2:]
    else:
        head, separator, content = raw.partition(b"\r\n\r\n")
        if not separator:
            raise MultipartError("a part has no blank line after its headers")
    headers = _parse_headers(head)
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError("a part has no Content-Disposition header")
    kind = disposition.split(";")[0].strip().lower()
    params = _header_params(disposition)
    if kind != "form-data" or not params.get("name"):
        raise MultipartError("a part's Content-Disposition is not form-data with a name")
    filename = params.get("filename")
    content_type = headers.get("content-type")
    if filename is not None or content_type is not None:
        return params["name"], FilePart(content, filename, content_type)
    try:
        return params["name"], content.decode("utf-8")
    except UnicodeDecodeError:
        raise MultipartError(f"the field {params['name']!r} is not UTF-8 text") from None


def _parse_headers(head):
    headers = {}
    if not head:
        return headers
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise MultipartError("a part's headers are not UTF-8") from None
    for line in text.split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise MultipartError(f"a part has a malformed header line {line[:60]!r}")
        headers[name.lower()] = value.strip()
    return headers


def _header_params(value):
    """``form-data; name="a"; filename="b.pdf"`` → {"name": "a", "filename": "b.pdf"}."""
    params = {}
    for match in _PARAM_RE.finditer(value):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key] = raw
    return params


# ------------------------------------------------------------------ encoding (tests)
def encode_form_data(fields=(), files=(), boundary=None):
    """fields: [(name, text)]; files: [(name, filename, content_type, bytes)] →
    (body bytes, Content-Type header value)."""
    boundary = boundary or f"----chittychargeboundary{secrets.token_hex(12)}"
    chunks = []
    for name, value in fields:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                      .encode() + str(value).encode("utf-8") + b"\r\n")
    for name, filename, content_type, data in files:
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n')
        chunks.append(head.encode("utf-8") + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
