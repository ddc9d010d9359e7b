"""Pages the service serves itself: the customer's tracking page and JSON, and the static files
(shipped in the package under ``dispatch/http/static``; nothing is fetched from elsewhere)."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from dispatch.http.problems import ApiError
from dispatch.keys import SERVICES, STATIC_FILES
from dispatch.orders.tracking import tracking_digest

#: Every page: only this origin's files. frame-ancestors is not covered by default-src, and a
#: tracking page in someone else's frame is a clickjacking surface; it only narrows.
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: The tracking link is a secret in the URL: no Referer carries it anywhere, no cache keeps it.
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".png": "image/png",
          ".svg": "image/svg+xml", ".json": "application/json", ".txt": "text/plain"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    gzipped: bytes | None  # text files only (images are compressed already)
    content_type: str
    etag: str


class StaticFiles:
    """The package's static files, read once on first use and kept in memory (they are small)."""

    def __init__(self, package: str = "dispatch.http", folder: str = "static") -> None:
        self._root = resources.files(package) / folder
        self._files: dict[str, StaticFile] | None = None

    def _load(self) -> dict[str, StaticFile]:
        files: dict[str, StaticFile] = {}
        stack = [("", self._root)]
        while stack:
            prefix, folder = stack.pop()
            for entry in folder.iterdir():
                name = prefix + entry.name
                if entry.is_dir():
                    stack.append((name + "/", entry))
                    continue
                body = entry.read_bytes()
                suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
                kind = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
                packed = gzip.compress(body, 9) if kind.startswith("text/") or kind.endswith("json") else None
                etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
                files[name] = StaticFile(body, packed, kind, etag)
        return files

    def get(self, name: str) -> StaticFile | None:
        if self._files is None:
            self._files = self._load()
        return self._files.get(name)

    def total_bytes(self, names: tuple[str, ...]) -> int:
        return sum(len(f.body) for n in names if (f := self.get(n)) is not None)


def file_response(request: web.Request, name: str) -> web.Response:
    found = request.app[STATIC_FILES].get(name)
    if found is None:
        raise ApiError("not_found", f"no such file: {name}")
    headers = {**PAGE_HEADERS, "ETag": found.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match") == found.etag:
        return web.Response(status=304, headers=headers)
    charset = "utf-8" if found.content_type.startswith("text/") else None
    body = found.body
    if found.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        body, headers["Content-Encoding"] = found.gzipped, "gzip"
    return web.Response(body=body, content_type=found.content_type, charset=charset, headers=headers)


async def static_file(request: web.Request) -> web.Response:
    """A file shipped in the package (the map library, the pages' scripts and styles)."""
    return file_response(request, request.match_info["name"])


async def tracking_page(request: web.Request) -> web.Response:
    """The customer's tracking page (the same for every link: its script asks the .json)."""
    response = file_response(request, "track.html")
    response.headers["Cache-Control"] = "no-store"
    return response


async def ops_page(request: web.Request) -> web.Response:
    """The operators' map (it asks for an operator token and sends it as a bearer header)."""
    return file_response(request, "ops.html")


async def tracking_json(request: web.Request) -> web.Response:
    """Status, promise, prediction, and the courier's position only while the order is on its way."""
    # one path for every token, well-formed or not: its digest is looked up (an index probe on a
    # hash, so the time says nothing about how close a guess came), unknown -> the same 404
    found = await request.app[SERVICES].tracking.find(tracking_digest(request.match_info["token"]))
    if found is None:
        raise ApiError("not_found", "no order has this tracking link")
    return web.json_response(found, headers={**PAGE_HEADERS, "Cache-Control": "no-store"})


_TOKEN = "{token:[A-Za-z0-9_-]{1,128}}"
#: Pages, not API: served beside the route table and left out of /openapi.json.
ROUTES = [
    ("GET", "/ops", ops_page),
    ("GET", f"/t/{_TOKEN}.json", tracking_json),
    ("GET", f"/t/{_TOKEN}", tracking_page),
    ("GET", "/static/{name:[A-Za-z0-9_./-]{1,200}}", static_file),
]
