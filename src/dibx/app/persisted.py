"""Persisted operations: trusted documents registered by hash, and automatic persisted queries.

A document's id is the SHA-256 of its text, in hex, exactly as the client sends the text:
what graphql-codegen's client preset writes (`persistedDocuments: {hashAlgorithm: "sha256"}`)
and relay-compiler's `persistConfig: {file, algorithm: "SHA256"}`. The registry is a manifest
file in the format both write, one JSON object `{"<sha256 hex>": "<document text>"}`, at
DIBX_TRUSTED_DOCUMENTS_FILE (default DATA_DIR/trusted-documents.json), loaded at start and
grown with `dibx operations add FILE...`. A file, not the graph: it ships with the dashboards'
build and every API process reads the same one, like the policy file.

A request names a document by
- `documentId`: "sha256:<hex>" (GraphQL over HTTP's persisted-documents proposal) or "<hex>";
- `extensions.persistedQuery {version: 1, sha256Hash}` (Apollo's automatic persisted queries):
  without `query`, an unknown hash answers PERSISTED_QUERY_NOT_FOUND (status 200: clients
  such as Apollo's link treat a 4xx as "not supported" and stop using the protocol) and the
  client sends the text with the hash, which registers it in this process (bounded LRU);
- either of these over GET (`?documentId=...&variables=...`, or `?extensions=...`): queries
  only, never a mutation, and never free text (a query in a URL is refused as before).

DIBX_TRUSTED_DOCUMENTS=require (Hasura's allow list, Apollo's safelisting): only registered
documents run, named by id or sent as text whose hash is registered; anything else answers
400 PERSISTED_QUERY_NOT_IN_LIST, and APQ registration is off. `optional` (the default) runs
free text too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Scope

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
MODES: Final = ("optional", "require")
NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
NOT_IN_LIST: Final = "PERSISTED_QUERY_NOT_IN_LIST"
BAD_REQUEST: Final = "BAD_REQUEST"
_HASH: Final = re.compile(r"[0-9a-f]{64}")
_GET_FIELDS: Final = ("query", "operationName", "documentId")
_GET_JSON_FIELDS: Final = ("variables", "extensions")


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ManifestError(ValueError):
    """A manifest file that cannot be used; the message names the file and the entry."""


class PersistedError(Exception):
    """A request the persisted-operations protocol refuses: answered as JSON with a code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self, headers: Headers) -> JSONResponse:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        response = JSONResponse(body, status_code=self.status)
        if GRAPHQL_RESPONSE in headers.get("accept", ""):
            response.headers["content-type"] = GRAPHQL_RESPONSE
        return response


def read_manifest(path: Path) -> dict[str, str]:
    """The documents of a manifest, each checked: a string key that is the SHA-256 of its
    text (a "sha256:" prefix is accepted), and text that parses as GraphQL."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: expected a JSON object of hash -> document")
    documents: dict[str, str] = {}
    for key, text in raw.items():
        if not isinstance(text, str):
            raise ManifestError(f"{path}: {key}: the document must be a string")
        given = key.removeprefix("sha256:")
        if given != document_hash(text):
            raise ManifestError(
                f"{path}: {key}: is not the SHA-256 of its document (dibx ids documents by "
                "SHA-256; set the client tool's hash algorithm to sha256)"
            )
        check_document(text, f"{path}: {key}")
        documents[given] = text
    return documents


def check_document(text: str, where: str) -> None:
    try:
        parse(text)
    except GraphQLError as exc:
        raise ManifestError(f"{where}: {exc.message}") from None


def write_manifest(path: Path, documents: Mapping[str, str]) -> None:
    """Replace the manifest at `path` whole (written aside, then renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        tmp.write_text(json.dumps(dict(sorted(documents.items())), indent=2) + "\n", "utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The request body to run, and whether it came as a GET (to be run as a query)."""

    body: bytes
    from_get: bool

    def scope(self, scope: Scope) -> Scope:
        """The request's scope, a GET made a JSON POST (its operation checked to be a query):
        the view refuses queries over GET, since a free-text one would be logged in URLs."""
        if not self.from_get:
            return scope
        headers = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")
        ]
        length = str(len(self.body)).encode()
        headers += [(b"content-type", b"application/json"), (b"content-length", length)]
        return {**scope, "method": "POST", "query_string": b"", "headers": headers}


class PersistedOperations:
    def __init__(
        self,
        trusted: Mapping[str, str],
        *,
        require: bool = False,
        cache_size: int = 1000,
    ) -> None:
        self.trusted = dict(trusted)
        self.require = require
        self.cache_size = cache_size
        self._registered: OrderedDict[str, str] = OrderedDict()  # APQ, this process

    @classmethod
    def load(cls, path: Path, mode: str) -> PersistedOperations:
        if mode not in MODES:
            raise ManifestError(f"DIBX_TRUSTED_DOCUMENTS={mode!r}: expected one of {MODES}")
        require = mode == "require"
        if not path.exists():
            if require:
                raise ManifestError(
                    f"DIBX_TRUSTED_DOCUMENTS=require, but there is no manifest at {path} "
                    "(`dibx operations add FILE...` creates it)"
                )
            return cls({}, require=False)
        return cls(read_manifest(path), require=require)

    def prepare(self, method: str, params: Mapping[str, str], payload: bytes) -> Prepared | None:
        """The body to run in place of the request's, or None to run it as it came."""
        if method == "GET":
            return self._prepare_get(params)
        if not self.require and b"documentId" not in payload and b"persistedQuery" not in payload:
            return None  # free text, which may run: no second parse of the body
        try:
            body = json.loads(payload)
        except (ValueError, RecursionError):
            if self.require:
                raise PersistedError(400, BAD_REQUEST, "the request body is not JSON") from None
            return None  # the view answers a bad body as it always has
        if not isinstance(body, dict):
            if self.require:
                raise PersistedError(400, BAD_REQUEST, "the request must be one JSON object")
            return None
        resolved = self.resolve(body)
        return None if resolved is body else Prepared(json.dumps(resolved).encode(), False)

    def _prepare_get(self, params: Mapping[str, str]) -> Prepared | None:
        body: dict[str, Any] = {k: params[k] for k in _GET_FIELDS if k in params}
        for name in _GET_JSON_FIELDS:
            if name in params:
                try:
                    body[name] = json.loads(params[name])
                except ValueError:
                    raise PersistedError(400, BAD_REQUEST, f"`{name}` is not JSON") from None
        if _document_id(body) is None:
            if self.require and "query" in body:
                raise PersistedError(400, NOT_IN_LIST, _NOT_IN_LIST_MESSAGE)
            return None  # free text over GET: the view refuses it as before
        resolved = self.resolve(body)
        try:
            operation = get_operation_ast(parse(resolved["query"]), body.get("operationName"))
        except GraphQLError:
            operation = None  # reported when it runs
        if operation is not None and operation.operation is not OperationType.QUERY:
            raise PersistedError(405, BAD_REQUEST, "only queries may be sent with GET")
        return Prepared(json.dumps(resolved).encode(), True)

    def resolve(self, body: dict[str, Any]) -> dict[str, Any]:
        """`body` with its document filled in from the registry; `body` itself when it
        names no document and may run as it is."""
        query = body.get("query")
        named = _document_id(body)
        if named is None:
            if self.require and not (isinstance(query, str) and document_hash(query) in self):
                raise PersistedError(400, NOT_IN_LIST, _NOT_IN_LIST_MESSAGE)
            return body
        digest, automatic = named
        if query is None or query == "":
            text = self._find(digest)
            if text is None:
                raise PersistedError(200, NOT_FOUND, "PersistedQueryNotFound")
            return {**body, "query": text}
        if not isinstance(query, str) or document_hash(query) != digest:
            raise PersistedError(400, BAD_REQUEST, "provided sha does not match query")
        if digest in self.trusted:
            return body
        if self.require:
            raise PersistedError(400, NOT_IN_LIST, _NOT_IN_LIST_MESSAGE)
        if automatic:
            self._register(digest, query)
        return body

    def __contains__(self, digest: str) -> bool:
        return digest in self.trusted

    def _find(self, digest: str) -> str | None:
        if digest in self.trusted:
            return self.trusted[digest]
        if self.require:
            return None
        text = self._registered.get(digest)
        if text is not None:
            self._registered.move_to_end(digest)
        return text

    def _register(self, digest: str, text: str) -> None:
        self._registered[digest] = text
        self._registered.move_to_end(digest)
        while len(self._registered) > self.cache_size:
            self._registered.popitem(last=False)


_NOT_IN_LIST_MESSAGE: Final = (
    "only registered (persisted) operations may run here: send a registered document's "
    "documentId, or register the document (`dibx operations add`)"
)


def _document_id(body: Mapping[str, Any]) -> tuple[str, bool] | None:
    """(sha256 hex, whether by the automatic protocol) the request names, if any."""
    extensions = body.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is not None:
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedError(400, BAD_REQUEST, "persistedQuery: only version 1 is supported")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest):
            raise PersistedError(400, BAD_REQUEST, "persistedQuery.sha256Hash: expected hex")
        return digest, True
    document_id = body.get("documentId")
    if document_id is None:
        return None
    if not isinstance(document_id, str) or not _HASH.fullmatch(document_id.removeprefix("sha256:")):
        raise PersistedError(400, BAD_REQUEST, "documentId: expected sha256:<64 hex digits>")
    return document_id.removeprefix("sha256:"), False
