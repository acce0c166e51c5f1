"""Files API of the Stripe double: POST /v1/files (multipart/form-data), GET
/v1/files, GET /v1/files/{file}, and the stored bytes for the control API.

Only ``purpose=dispute_evidence`` is modelled, with Stripe's limits for it
(file-upload guide: PDF, JPEG or PNG, at most 5 MB, kept 9 months, downloadable)
plus the 50-page limit of a PDF that integrators quote from Stripe's error
[secondary]. "5 MB" is taken as 5 MiB (5,242,880 bytes), the figure
CONTRACT.md gives the service. The declared type (the part's Content-Type, or
the filename's extension when that is absent or application/octet-stream) must
be one of the three, and the bytes must start with that type's signature.

Not thread-safe: StripeApp's lock is held around every call. Params arrive
type-checked; the file part is a multipart.FilePart (a str carrying ``.data``).
"""

import copy
import datetime
import re
import zlib

from multipart import FilePart
from stripe_model import invalid_request, new_id, now, resource_missing
from stripe_resources import check_expand, list_answer

DISPUTE_EVIDENCE = "dispute_evidence"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_PDF_PAGES = 50
EXPIRY_MONTHS = 9
# MIME type → (File.type, leading bytes)
FILE_TYPES = {"application/pdf": ("pdf", b"%PDF-"), "image/jpeg": ("jpg", b"\xff\xd8\xff"),
              "image/png": ("png", b"\x89PNG\r\n\x1a\n")}
EXTENSION_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg",
                   "png": "image/png"}
UNSUPPORTED_TYPE = ("We don't currently support that file type. Try uploading a file with one of "
                    "the following mimetypes: application/pdf, image/jpeg, image/png.")
TOO_MANY_PAGES = (f"The file you uploaded was too long. Please upload a file with fewer than "
                  f"{MAX_PDF_PAGES} pages.")
FILES_HOST = "https://files.stripe.com"
EXPANDABLE = ("links",)  # always inlined; accepted


class StoredFile:
    def __init__(self, obj, data, mime):
        self.obj = obj
        self.data = data
        self.mime = mime


class FileStore:
    def __init__(self):
        self.reset()

    def reset(self):
        self.files = {}  # id → StoredFile, creation order

    # ---------------------------------------------------------- API operations
    def create(self, params, ctx):
        check_expand(params.get("expand", ()), EXPANDABLE)
        upload = params["file"]
        if not isinstance(upload, FilePart):
            raise invalid_request("Invalid file: must be a file part of a multipart/form-data "
                                  "request (with a filename and a Content-Type).", "file",
                                  executed=False)
        if params["purpose"] != DISPUTE_EVIDENCE:
            raise invalid_request(f"The Stripe test double does not model files with purpose "
                                  f"'{params['purpose']}'.", "purpose", executed=False)
        mime = _checked_type(upload)
        created = now()
        file_id = new_id("file_")
        links = _links(file_id, params.get("file_link_data"), created)
        obj = {"id": file_id, "object": "file", "created": created,
               "expires_at": _months_later(created, EXPIRY_MONTHS), "filename": upload.filename,
               "links": links, "purpose": params["purpose"], "size": len(upload.data),
               "title": None, "type": FILE_TYPES[mime][0],
               "url": f"{FILES_HOST}/v1/files/{file_id}/contents"}
        self.files[file_id] = StoredFile(obj, upload.data, mime)
        return copy.deepcopy(obj)

    def retrieve(self, file_id, params, ctx):
        check_expand(params.get("expand", ()), EXPANDABLE)
        return copy.deepcopy(self.get(file_id).obj)

    def list(self, params, ctx):
        check_expand(params.get("expand", ()), EXPANDABLE, "data.")
        stored = [f.obj for f in reversed(self.files.values())
                  if params.get("purpose") in (None, f.obj["purpose"])]
        return list_answer("/v1/files", stored, params, "file", copy.deepcopy)

    # ---------------------------------------------------------- for disputes and tests
    def get(self, file_id, param="file", status=404):
        stored = self.files.get(file_id)
        if stored is None:
            raise resource_missing("file upload", file_id, param, status=status)
        return stored

    def find(self, file_id):
        return self.files.get(file_id)


def _checked_type(upload):
    """→ the MIME type; refuses (400, not stored) what dispute evidence may not be."""
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared in ("", "application/octet-stream") and upload.filename:
        extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
        declared = EXTENSION_TYPES.get(extension, declared)
    if declared not in FILE_TYPES or not upload.data.startswith(FILE_TYPES[declared][1]):
        raise invalid_request(UNSUPPORTED_TYPE, "file", executed=False)
    if len(upload.data) > MAX_FILE_BYTES:
        raise invalid_request(f"The file you uploaded is too large ({len(upload.data)} bytes). "
                              f"Files with purpose {DISPUTE_EVIDENCE} can be at most 5MB "
                              f"({MAX_FILE_BYTES} bytes).", "file", executed=False)
    if declared == "application/pdf" and pdf_page_count(upload.data) > MAX_PDF_PAGES:
        raise invalid_request(TOO_MANY_PAGES, "file", executed=False)
    return declared


def _links(file_id, link_data, created):
    data = []
    if link_data and link_data.get("create"):
        metadata = link_data.get("metadata") or {}
        data.append({"id": new_id("link_"), "object": "file_link", "created": created,
                     "expired": False, "expires_at": link_data.get("expires_at"),
                     "file": file_id, "livemode": False,
                     "metadata": metadata if isinstance(metadata, dict) else {},
                     "url": f"{FILES_HOST}/links/{new_id('', 40)}"})
    return {"object": "list", "data": data, "has_more": False,
            "url": f"/v1/file_links?file={file_id}"}


def _months_later(timestamp, months):
    start = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, 28)  # every month has a 28th
    return int(start.replace(year=year, month=month, day=day).timestamp())


# ------------------------------------------------------------------ PDF pages
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_STREAM = re.compile(rb"stream\r?\n")
MAX_INFLATED = 16 * 1024 * 1024


def pdf_page_count(data):
    """Page objects (``/Type /Page``) in the file and in its Flate-compressed
    streams (object streams hold the page dictionaries of most modern PDFs)."""
    count = len(_PAGE_OBJECT.findall(data))
    for match in _STREAM.finditer(data):
        end = data.find(b"endstream", match.end())
        if end < 0:
            break
        try:
            inflated = zlib.decompressobj().decompress(data[match.end():end], MAX_INFLATED)
        except zlib.error:
            continue  # not Flate (an image, say)
        count += len(_PAGE_OBJECT.findall(inflated))
    return count
