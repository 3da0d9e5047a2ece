"""The OpenAPI document of the sync API, served at /api/sync/v1/openapi.json. Imports nothing."""

_ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


_SIGNED = [{
    "name": "Authorization", "in": "header", "required": True, "schema": {"type": "string"},
    "description": "Sync <node id>:<time ms>:<nonce>:<signature>. The time is the node's clock "
                   "corrected by its offset to the hub (refused when more than 5 minutes from "
                   "the hub's); the nonce is 16 to 64 random characters, never used twice; the "
                   "signature is the unpadded base64url HMAC-SHA256, with the node's secret, of "
                   "method, path, time, nonce and the hex SHA-256 of the body as transmitted, "
                   "joined by newlines.",
}]

_CHANGES = {
    "type": "object",
    "description": "A changeset: see sync/README.md, 'Wire format'.",
    "properties": {
        "nodes": {"type": "array", "items": {"type": "string"}},
        "base": {"type": "integer", "minimum": 0},
        "tables": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "array"}},
            "cells": {"type": "array", "items": {"type": "array"}},
            "deletes": {"type": "array", "items": {"type": "array"}},
        }, "required": ["name"]}},
    },
}

_SHA = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

DOCUMENT = {
    "openapi": "3.0.3",
    "info": {
        "title": "Infocentre sync API",
        "version": "1",
        "description": "Centres (nodes) exchange changes with the regional hub. Bodies may be "
                       "gzip-compressed (Content-Encoding: gzip); the hub refuses more than "
                       "8 MiB as sent or 64 MiB decompressed.",
    },
    "servers": [{"url": "/"}],
    "paths": {
        "/api/sync/v1/hello": {"get": {
            "summary": "Is the hub there, and what time is it there?",
            "operationId": "hello",
            "responses": {"200": {"description": "The hub answers.", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Hello"}}}}},
        }},
        "/api/sync/v1/openapi.json": {"get": {
            "summary": "This document.",
            "operationId": "openapi",
            "responses": {"200": {"description": "The OpenAPI document.",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}}},
        }},
        "/api/sync/v1/exchange": {"post": {
            "summary": "Push a batch of the node's changes and pull a page of the hub's.",
            "operationId": "exchange",
            "parameters": _SIGNED,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ExchangeRequest"}}}},
            "responses": {
                "200": {"description": "The batch's acknowledgement and a page to pull.",
                        "content": {"application/json": {"schema": {
                            "$ref": "#/components/schemas/ExchangeReply"}}}},
                "400": _error("malformed: the request is not understood."),
                "401": _error("unauthenticated (unsigned, wrongly signed, stale or replayed) "
                              "or revoked."),
                "403": _error("forged_origin: changes claimed for another centre."),
                "409": _error("clock_ahead (with hub_time) or schema_too_old."),
                "410": _error("resync_required: push, then pull everything from cursor 0."),
                "413": _error("too_large."),
                "503": _error("busy (with retry_after, seconds): the request waited its turn "
                              "too long; nothing was done, send it again then."),
            },
        }},
        "/api/sync/v1/blobs": {"post": {
            "summary": "Which offered blobs the hub lacks, and the sizes of wanted ones it holds "
                       "for this centre.",
            "operationId": "blobs",
            "parameters": _SIGNED,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "offer": {"type": "array", "maxItems": 1000, "items": _SHA},
                    "want": {"type": "array", "maxItems": 1000, "items": _SHA}}}}}},
            "responses": {
                "200": {"description": "missing: {sha: bytes the hub has of it}; sizes: {sha: "
                                       "size} (blobs outside this centre's scope are left out).",
                        "content": {"application/json": {"schema": {
                            "type": "object", "required": ["ok", "missing", "sizes"],
                            "properties": {"ok": {"type": "boolean"},
                                           "missing": {"type": "object"},
                                           "sizes": {"type": "object"}}}}}},
                "400": _error("malformed."),
                "401": _error("unauthenticated or revoked."),
                "503": _error("busy (with retry_after, seconds)."),
            },
        }},
        "/api/sync/v1/blobs/{sha}/{size}/{offset}": {"put": {
            "summary": "One chunk of a blob named by a row of this centre's scope.",
            "operationId": "putBlob",
            "parameters": _SIGNED + [
                {"name": "sha", "in": "path", "required": True, "schema": _SHA},
                {"name": "size", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}},
                {"name": "offset", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 0}}],
            "requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": {
                "200": {"description": "received: the bytes of the blob the hub now has.",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": _error("malformed or empty."),
                "401": _error("unauthenticated or revoked."),
                "403": _error("not_in_scope: no row this centre may send names it."),
                "409": _error("offset: start from 'received'."),
                "413": _error("too_large for its kind."),
                "415": _error("unsupported: not a photo or recording."),
                "422": _error("hash_mismatch: the whole blob did not match; send it again."),
            },
        }},
        "/api/sync/v1/blobs/{sha}/{offset}": {"get": {
            "summary": "64 KiB of a blob from offset; X-Blob-Size gives its size.",
            "operationId": "getBlob",
            "parameters": _SIGNED + [
                {"name": "sha", "in": "path", "required": True, "schema": _SHA},
                {"name": "offset", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 0}}],
            "responses": {
                "200": {"description": "The bytes.", "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "401": _error("unauthenticated or revoked."),
                "404": _error("missing: not at the hub, or not in this centre's scope."),
                "409": _error("offset: past the end."),
            },
        }},
    },
    "components": {"schemas": {
        "Error": {"type": "object", "required": ["ok", "errors"], "properties": {
            "ok": {"type": "boolean", "enum": [False]},
            "errors": {"type": "array", "items": {"type": "object",
                                                  "required": ["code", "message"],
                                                  "properties": {
                                                      "code": {"type": "string"},
                                                      "message": {"type": "string"}}}},
            "hub_time": {"type": "integer"},
        }},
        "Hello": {"type": "object", "required": ["ok", "api", "hub_time"], "properties": {
            "ok": {"type": "boolean"}, "api": {"type": "integer"},
            "hub_time": {"type": "integer"}}},
        "ExchangeRequest": {"type": "object", "required": ["instance", "schema"],
                            "properties": {
            "node": {"type": "string", "maxLength": 64,
                     "description": "Optional: the signature already names the node."},
            "instance": {"type": "string", "maxLength": 64,
                         "description": "This copy of the node's database."},
            "schema": {"type": "integer", "minimum": 0},
            "acked": {"type": "integer", "minimum": 0,
                      "description": "The last local sequence number the hub acknowledged."},
            "cursor": {"type": "integer", "minimum": 0, "nullable": True,
                       "description": "The hub sequence pulled up to; null: push only."},
            "limit": {"type": "integer", "minimum": 1},
            "everything": {"type": "boolean",
                           "description": "A full resynchronisation: the node's own changes "
                                          "too."},
            "software": {"type": "string", "maxLength": 40,
                         "description": "Optional: the node's software version, shown to the "
                                        "regional staff."},
            "waiting": {"type": "integer", "minimum": 0,
                        "description": "The node's changes not in this request's batch, still "
                                       "to send (shown to the regional staff); with "
                                       "software, absent means 0."},
            "had": {"type": "integer", "minimum": 0,
                    "description": "Asked before the page up to the cursor was applied: the "
                                   "cursor the node has (at most the cursor)."},
            "batch": {"type": "object", "nullable": True,
                      "required": ["id", "from", "to", "changes"], "properties": {
                "id": {"type": "string", "maxLength": 64},
                "from": {"type": "integer", "minimum": 0},
                "to": {"type": "integer", "minimum": 0},
                "changes": _CHANGES}},
        }},
        "ExchangeReply": {"type": "object", "required": ["ok", "hub_time"], "properties": {
            "ok": {"type": "boolean"},
            "hub_time": {"type": "integer"},
            "epoch": {"type": "string", "description": "The hub's history: a new one (after "
                      "the hub was restored from a backup) asks the centre to send and pull "
                      "everything again."},
            "renew_instance": {"type": "boolean", "description": "This copy of the centre's "
                               "database is behind what the hub received from it (restored, "
                               "or cloned): take a new instance id, then resynchronise."},
            "ack": {"type": "object", "nullable": True, "properties": {
                "batch": {"type": "string"}, "acked": {"type": "integer"},
                "received": {"type": "integer"}, "applied": {"type": "integer"},
                "quarantined": {"type": "integer"},
                "gone": {"type": "array", "items": {"type": "array"}, "description":
                         "[table, id] of rows sent whole whose ids were deleted for ever: "
                         "the centre drops them."},
                "blobs_missing": {"type": "array", "items": {"type": "string"}, "description":
                                  "SHA-256s the batch's rows name that the hub does not hold "
                                  "(it may have deleted one no row named): the centre offers "
                                  "them again."}}},
            "pull": {"type": "object", "nullable": True, "properties": {
                "changes": _CHANGES,
                "exits": {"type": "array", "items": {"type": "array"}},
                "cursor": {"type": "integer"},
                "more": {"type": "boolean"}}},
        }},
    }},
}
