"""The public zone's read-only HTTP API in CKAN's Action API shapes, plus the zone's static files.

Open-data consumers (ckanapi scripts, harvesters of the national portal, the portal's own pages) already
speak CKAN, so the API answers CKAN's actions with CKAN's envelope, parameters and status codes instead of
inventing its own: ``/api/3/action/<name>`` and ``/api/action/<name>``, GET query parameters or a POST JSON
body/form, ``{"help", "success", "result"}`` or ``{"help", "success": false, "error": {"__type", ...}}``
(404 Not Found Error, 409 Validation/Search Query Error) and a 400 JSON string for an unknown action.
Everything is derived from ``catalog.json`` of the zone, re-read when its bytes change, so a new publish is
served without a restart; rows come from the open Delta tables (`jobs.publish.ckan_datastore`).

The zone's files (``catalog.json``, ``catalog.jsonld``, ``datasets/...``, ``portal/...``) are served
read-only from the same store, so one process is the whole public site in the embedded profile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import simplejson  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from jobs.errors import CitylakeError
from jobs.io.deltars import storage_options as delta_storage_options
from jobs.io.objects import LocalStore, ObjectStore, S3Store, store_for
from jobs.publish import ckan_actions as actions
from jobs.publish import ckan_vocabulary as vocabulary
from jobs.publish.ckan_actions import Catalog, build_catalog
from jobs.publish.ckan_datastore import (
    MEMORY_BYTES_DEFAULT,
    TableCache,
    datastore_search,
    table_key,
)
from jobs.publish.ckan_params import ActionError
from jobs.publish.layout import CATALOG_JSON, CATALOG_JSONLD
from jobs.publish.records import MEDIA_TYPES, from_json
from jobs.settings import DEFAULT_OPEN_BASE_URL, Settings

log = logging.getLogger(__name__)

ACTION_PREFIXES = ("/api/3/action", "/api/action")
JSON_TYPE = "application/json; charset=utf-8"
#: the CKAN API level whose action shapes this server follows (reported by status_show)
CKAN_API_LEVEL = "2.10"
_STORE_ERRORS = (OSError, BotoCoreError, ClientError)
_MEDIA = {
    ".json": JSON_TYPE, ".jsonld": "application/ld+json; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    ".parquet": MEDIA_TYPES["Parquet"], ".xlsx": MEDIA_TYPES["XLSX"], ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8", ".xml": "application/xml; charset=utf-8", ".png": "image/png",
    ".ico": "image/x-icon", ".woff2": "font/woff2",
}

ActionFn = Callable[..., Any]


class BadRequest(CitylakeError):
    """The request body is unusable (malformed JSON, not an object): answered with CKAN's 400 string."""


class CatalogSource:
    """``catalog.json`` of a store as a `Catalog`, re-read when its bytes change.

    The store is asked at most every `refresh_seconds`; the bytes' SHA-256 decides whether to rebuild, so
    an unchanged catalog costs one read and no parsing. A missing catalog is an empty one (a zone before its
    first publish); an unreadable or malformed one keeps the last good catalog, so a failed publish or a
    storage hiccup never takes the API down.
    """

    def __init__(self, store: ObjectStore, *, base_url: str, refresh_seconds: float = 2.0,
                 on_change: Callable[[Catalog], None] | None = None):
        self.store, self.base_url, self.refresh_seconds = store, base_url, refresh_seconds
        self.on_change = on_change
        self._catalog: Catalog | None = None
        self._rejected = ""  # digest of the last malformed catalog.json, so it is reported once
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> Catalog:
        with self._lock:
            now = time.monotonic()
            if self._catalog is None or now - self._checked >= self.refresh_seconds:
                self._checked = now
                self._refresh()
            assert self._catalog is not None
            return self._catalog

    def _refresh(self) -> None:
        try:
            data = self.store.read_bytes(CATALOG_JSON) if self.store.exists(CATALOG_JSON) else b""
        except _STORE_ERRORS as exc:
            log.error("catalog: cannot read %s: %s", self.store.url(CATALOG_JSON), exc)
            if self._catalog is None:
                self._catalog = build_catalog([], base_url=self.base_url)
            return
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._rejected or (self._catalog is not None and self._catalog.digest == digest):
            return
        try:
            records = from_json(data.decode("utf-8")) if data else []
        except (ValueError, KeyError, TypeError) as exc:
            self._rejected = digest
            log.error("catalog: %s is malformed, keeping the previous one: %s", self.store.url(CATALOG_JSON), exc)
            if self._catalog is None:
                self._catalog = build_catalog([], base_url=self.base_url)
            return
        self._catalog = build_catalog(records, base_url=self.base_url, digest=digest)
        log.info("catalog: %d datasets (sha256 %s)", len(records), digest[:12])
        if self.on_change is not None:
            self.on_change(self._catalog)


def _json_response(payload: Any, status: int = 200) -> Response:
    # simplejson writes a Decimal as the exact JSON number it is (json would need a float: 4506.871700000001)
    body = simplejson.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str, use_decimal=True)
    return Response(body.encode("utf-8"), status_code=status, media_type=JSON_TYPE)


def _bad_request(message: str) -> Response:
    return _json_response(f"Bad request - {message}", 400)


#: the largest request body an action reads (parameters, never data: this API is read-only)
MAX_BODY_BYTES = 1 << 20


async def _request_params(request: Request) -> dict[str, Any]:
    """Query parameters (repeated ones as lists), overlaid with a POST's JSON object or form fields."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest(f"request body of {declared} bytes; at most {MAX_BODY_BYTES} are read")
    params: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        params[key] = values[0] if len(values) == 1 else values
    if request.method != "POST":
        return params
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"request body over {MAX_BODY_BYTES} bytes")
    content_type = request.headers.get("content-type", "")
    is_form = "multipart/form-data" in content_type or (
        "application/x-www-form-urlencoded" in content_type and not body.lstrip().startswith(b"{"))
    if is_form:
        form = await request.form()
        for key in form:
            values = [v for v in form.getlist(key) if isinstance(v, str)]
            params[key] = values[0] if len(values) == 1 else values
    elif body.strip():
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"JSON Error: {exc}") from None
        if not isinstance(data, dict):
            raise BadRequest(f"JSON Error: Request data JSON decoded to {data!r} but it needs to be a dictionary")
        params.update(data)
    return params


def _safe_key(path: str) -> str | None:
    """`path` as a store key, or None when it could leave the zone or name a hidden/staged file."""
    if "\\" in path or "\x00" in path:
        return None
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    if len(path.split("/")) != len(parts):  # empty segments ("a//b") or a trailing slash
        return None
    return path


def _media_type(key: str) -> str:
    suffix = PurePosixPath(key).suffix.lower()
    return _MEDIA.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def _static(store: ObjectStore, path: str) -> Response:
    key = _safe_key(path)
    not_found = Response("Not found", status_code=404, media_type="text/plain; charset=utf-8")
    if key is None:
        return not_found
    media_type = _media_type(key)
    if isinstance(store, LocalStore):
        root = store.root.resolve()
        target = store.path(key).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return not_found
        return FileResponse(target, media_type=media_type)
    if isinstance(store, S3Store):
        full = f"{store.prefix}/{key}" if store.prefix else key
        try:
            obj = store.client.get_object(Bucket=store.bucket, Key=full)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return not_found
            raise
        return StreamingResponse(obj["Body"].iter_chunks(chunk_size=1 << 20), media_type=media_type,
                                 headers={"Content-Length": str(obj["ContentLength"])})
    if not store.exists(key):
        return not_found
    return Response(store.read_bytes(key), media_type=media_type)


def create_app(store: ObjectStore, *, base_url: str, tables_root: str,
               storage_options: Mapping[str, str] | None = None,
               refresh_seconds: float = 2.0, memory_bytes: int = MEMORY_BYTES_DEFAULT,
               published_base_url: str | None = None) -> FastAPI:
    """The API and static site of the zone in `store`; download URLs are `base_url` + zone path.

    `tables_root` holds the zone's open Delta tables, one per dataset name (`Settings.table_path`'s folder);
    `storage_options` are deltalake's options for s3:// tables (see `delta_storage_options`).
    `published_base_url` is the base the zone's files were written with (the DCAT catalog's IRIs); when it
    differs from `base_url`, ``catalog.jsonld`` is served with it replaced, so its links reach this server.
    """
    tables = TableCache(tables_root, storage_options, memory_bytes=memory_bytes)
    source = CatalogSource(store, base_url=base_url, refresh_seconds=refresh_seconds,
                           on_change=lambda c: tables.retain({table_key(d) for d in c.datasets.values()}))
    registry: dict[str, ActionFn] = {
        "package_list": actions.package_list,
        "package_show": actions.package_show,
        "package_search": actions.package_search,
        "resource_show": actions.resource_show,
        "organization_list": actions.organization_list,
        "organization_show": actions.organization_show,
        "datastore_search": partial(_datastore, tables=tables),
        "license_list": vocabulary.license_list,
        "tag_list": vocabulary.tag_list,
        "group_list": vocabulary.group_list,
        "current_package_list_with_resources": vocabulary.current_package_list_with_resources,
        "site_read": vocabulary.site_read,
    }
    docs = {name: (datastore_search if name == "datastore_search" else fn).__doc__ or ""
            for name, fn in registry.items()}

    def help_show(catalog: Catalog, params: Mapping[str, Any]) -> str:
        """The documentation of an action. Parameters: name."""
        return docs[actions.check_name(params, docs)].strip()

    def status_show(catalog: Catalog, params: Mapping[str, Any]) -> dict[str, Any]:
        """What this site is, and which CKAN API level and extensions it answers for."""
        return {"site_title": "citylake open data", "site_url": base_url, "site_description": "",
                "ckan_version": CKAN_API_LEVEL, "locale_default": "zh_Hans_CN", "extensions": ["datastore"],
                "datasets": len(catalog.datasets)}

    registry.update({"help_show": help_show, "status_show": status_show})
    docs.update({"help_show": help_show.__doc__ or "", "status_show": status_show.__doc__ or ""})

    app = FastAPI(title="citylake open data (CKAN Action API)", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "HEAD"],
                       allow_headers=["*"])
    app.state.catalog = source
    app.state.tables = tables

    async def action_endpoint(action: str, request: Request) -> Response:
        fn = registry.get(action)
        if fn is None:
            return _bad_request(f"Action name not known: {action}")
        try:
            params = await _request_params(request)
        except BadRequest as exc:
            return _bad_request(str(exc))
        help_url = f"{request.base_url}api/3/action/help_show?name={action}"
        try:
            extra = {"path": request.scope["path"]} if action == "datastore_search" else {}
            result = await run_in_threadpool(lambda: fn(source.get(), params, **extra))
        except ActionError as exc:
            return _json_response({"help": help_url, "success": False, "error": exc.error()}, exc.status)
        return _json_response({"help": help_url, "success": True, "result": result})

    for prefix in ACTION_PREFIXES:
        app.add_api_route(f"{prefix}/{{action}}", action_endpoint, methods=["GET", "POST"], include_in_schema=False)

    app.add_api_route(f"/{CATALOG_JSON}", _file_endpoint(store, CATALOG_JSON), methods=["GET", "HEAD"],
                      include_in_schema=False)
    rebased = (published_base_url, base_url) if published_base_url and published_base_url != base_url else None
    app.add_api_route(f"/{CATALOG_JSONLD}", _file_endpoint(store, CATALOG_JSONLD, rebased=rebased),
                      methods=["GET", "HEAD"], include_in_schema=False)
    for folder in ("datasets", "portal"):
        app.add_api_route(f"/{folder}/{{path:path}}", _folder_endpoint(store, folder), methods=["GET", "HEAD"],
                          include_in_schema=False)

    async def home() -> Response:
        return RedirectResponse("/portal/index.html")

    app.add_api_route("/", home, methods=["GET", "HEAD"], include_in_schema=False)
    return app


def _file_endpoint(store: ObjectStore, key: str, *, rebased: tuple[str, str] | None = None
                   ) -> Callable[[], Awaitable[Response]]:
    async def endpoint() -> Response:
        if rebased is None:
            return await run_in_threadpool(_static, store, key)
        return await run_in_threadpool(_rebased, store, key, *rebased)

    return endpoint


def _rebased(store: ObjectStore, key: str, old: str, new: str) -> Response:
    """A text file of the zone with the base URL it was published under replaced by the serving one."""
    if not store.exists(key):
        return Response("Not found", status_code=404, media_type="text/plain; charset=utf-8")
    body = store.read_bytes(key).replace(old.encode("utf-8"), new.encode("utf-8"))
    return Response(body, media_type=_media_type(key))


def serving_base_url(settings: Settings, host: str, port: int) -> str:
    """The zone's public base URL: `CITYLAKE_OPEN_BASE_URL` when it is set; otherwise (the embedded default)
    the address this server listens on, so every link it hands out reaches it."""
    if settings.open_base_url != DEFAULT_OPEN_BASE_URL:
        return settings.open_base_url
    shown = socket.getfqdn() if host in ("", "0.0.0.0", "::") else host
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/"


def _folder_endpoint(store: ObjectStore, folder: str) -> Callable[[str], Awaitable[Response]]:
    async def endpoint(path: str) -> Response:
        key = f"{folder}/{path}" + ("index.html" if path == "" or path.endswith("/") else "")
        return await run_in_threadpool(_static, store, key)

    return endpoint


def _datastore(catalog: Catalog, params: Mapping[str, Any], *, tables: TableCache, path: str) -> Any:
    return datastore_search(catalog, tables, params, path=path)


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the public zone (`settings.open_uri`) until interrupted."""
    import uvicorn

    store = store_for(settings.open_uri, settings)
    base_url = serving_base_url(settings, host, port)
    app = create_app(store, base_url=base_url, tables_root=settings.table_path("open", "").rstrip("/"),
                     storage_options=delta_storage_options(settings),
                     published_base_url=settings.open_base_url)
    log.info("serving %s at http://%s:%d/ (download links under %s)", store.uri, host, port, base_url)
    uvicorn.run(app, host=host, port=port, log_level="info")
