"""JSON Schemas of the documented Salesforce REST response bodies.

Salesforce publishes no OpenAPI description for these resources, so the shapes are
written from the REST API Developer Guide (query, sObject create/upsert, sObject
Collections, Get Updated/Deleted, limits, errors, OAuth token) and the Bulk API 2.0
Developer Guide (query job info). They are deliberately
strict where the documentation is (required keys, types, id and datetime formats) and
open where Salesforce adds keys over time (``additionalProperties`` left true on
records and limits). Tests validate every body the sandbox returns against them.
"""

from __future__ import annotations

import re
from typing import Any

SF_ID = r"^[0-9A-Za-z]{18}$"
SF_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"
LIMIT_INFO_HEADER = re.compile(
    r"^api-usage=(\d+)/(\d+)(?:; ?per-app-api-usage=\d+/\d+\(appName=[^)]+\))?$"
)

_ID = {"type": "string", "pattern": SF_ID}
_DATETIME = {"type": "string", "pattern": SF_DATETIME}

ERROR_LIST: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["message", "errorCode"],
        "properties": {
            "message": {"type": "string"},
            "errorCode": {"type": "string", "pattern": "^[A-Z_]+$"},
            "fields": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    },
}

RECORD: dict[str, Any] = {
    "type": "object",
    "required": ["attributes"],
    "properties": {
        "attributes": {
            "type": "object",
            "required": ["type", "url"],
            "properties": {
                "type": {"type": "string"},
                "url": {
                    "type": "string",
                    "pattern": r"^/services/data/v\d+\.\d/sobjects/\w+/[0-9A-Za-z]{18}$",
                },
            },
            "additionalProperties": False,
        },
        "Id": _ID,
        "CreatedDate": _DATETIME,
        "LastModifiedDate": _DATETIME,
        "SystemModstamp": _DATETIME,
        "IsDeleted": {"type": "boolean"},
        "MasterRecordId": {"type": ["string", "null"], "pattern": SF_ID},
    },
    # Other fields are scalars, or a parent record nested under its relationship name.
    "additionalProperties": {
        "anyOf": [
            {"type": ["string", "number", "boolean", "null"]},
            {"type": "object", "required": ["attributes"]},
        ]
    },
}

QUERY_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["totalSize", "done", "records"],
    "properties": {
        "totalSize": {"type": "integer", "minimum": 0},
        "done": {"type": "boolean"},
        "nextRecordsUrl": {
            "type": "string",
            "pattern": r"^/services/data/v\d+\.\d/query/01g[0-9A-Za-z]{15}-\d+$",
        },
        "records": {"type": "array", "maxItems": 2000, "items": RECORD},
    },
    "additionalProperties": False,
    "if": {"properties": {"done": {"const": False}}},
    "then": {"required": ["nextRecordsUrl"]},
    "else": {"not": {"required": ["nextRecordsUrl"]}},
}

_RECORD_ERROR = {
    "type": "object",
    "required": ["statusCode", "message", "fields"],
    "properties": {
        "statusCode": {"type": "string", "pattern": "^[A-Z_]+$"},
        "message": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}

SAVE_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "success", "errors"],
    "properties": {
        "id": _ID,
        "success": {"const": True},
        "errors": {"type": "array", "maxItems": 0},
    },
    "additionalProperties": False,
}

UPSERT_RESULT: dict[str, Any] = {
    **SAVE_RESULT,
    "required": ["id", "success", "errors", "created"],
    "properties": {**SAVE_RESULT["properties"], "created": {"type": "boolean"}},
}

COLLECTION_RESULTS: dict[str, Any] = {
    "type": "array",
    "maxItems": 200,
    "items": {
        "type": "object",
        "required": ["success", "errors"],
        "properties": {
            "id": _ID,
            "success": {"type": "boolean"},
            "errors": {"type": "array", "items": _RECORD_ERROR},
            "created": {"type": "boolean"},
        },
        "additionalProperties": False,
        "if": {"properties": {"success": {"const": True}}},
        "then": {"required": ["id"], "properties": {"errors": {"maxItems": 0}}},
        "else": {"properties": {"errors": {"minItems": 1}}},
    },
}

UPDATED: dict[str, Any] = {
    "type": "object",
    "required": ["ids", "latestDateCovered"],
    "properties": {"ids": {"type": "array", "items": _ID}, "latestDateCovered": _DATETIME},
    "additionalProperties": False,
}

DELETED: dict[str, Any] = {
    "type": "object",
    "required": ["deletedRecords", "earliestDateAvailable", "latestDateCovered"],
    "properties": {
        "deletedRecords": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "deletedDate"],
                "properties": {"id": _ID, "deletedDate": _DATETIME},
                "additionalProperties": False,
            },
        },
        "earliestDateAvailable": _DATETIME,
        "latestDateCovered": _DATETIME,
    },
    "additionalProperties": False,
}

LIMITS: dict[str, Any] = {
    "type": "object",
    "required": ["DailyApiRequests"],
    "additionalProperties": {
        "type": "object",
        "required": ["Max", "Remaining"],
        "properties": {"Max": {"type": "integer"}, "Remaining": {"type": "integer", "minimum": 0}},
    },
}

TOKEN: dict[str, Any] = {
    "type": "object",
    "required": ["access_token", "instance_url", "id", "token_type", "issued_at", "signature"],
    "properties": {
        "access_token": {"type": "string", "minLength": 20},
        "instance_url": {"type": "string", "pattern": "^https://"},
        "id": {
            "type": "string",
            "pattern": r"^https://.+/id/00D[0-9A-Za-z]{15}/005[0-9A-Za-z]{15}$",
        },
        "token_type": {"const": "Bearer"},
        "issued_at": {"type": "string", "pattern": r"^\d{13}$"},
        "signature": {"type": "string", "pattern": r"^[A-Za-z0-9+/]+=*$"},
        "scope": {"type": "string"},
    },
    "additionalProperties": False,
}

OAUTH_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "additionalProperties": False,
}

MULTIPLE_CHOICES: dict[str, Any] = {
    "type": "array",
    "minItems": 2,
    "items": {
        "type": "string",
        "pattern": r"^/services/data/v\d+\.\d/sobjects/\w+/[0-9A-Za-z]{18}$",
    },
}

BULK_QUERY_JOB: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "operation",
        "object",
        "createdById",
        "createdDate",
        "systemModstamp",
        "state",
        "concurrencyMode",
        "contentType",
        "apiVersion",
        "lineEnding",
        "columnDelimiter",
    ],
    "properties": {
        "id": {"type": "string", "pattern": r"^750[0-9A-Za-z]{15}$"},
        "operation": {"enum": ["query", "queryAll"]},
        "object": {"type": "string"},
        "createdById": _ID,
        "createdDate": _DATETIME,
        "systemModstamp": _DATETIME,
        "state": {"enum": ["UploadComplete", "InProgress", "Aborted", "JobComplete", "Failed"]},
        "concurrencyMode": {"const": "Parallel"},
        "contentType": {"const": "CSV"},
        "apiVersion": {"type": "number"},
        "lineEnding": {"enum": ["LF", "CRLF"]},
        "columnDelimiter": {"enum": ["BACKQUOTE", "CARET", "COMMA", "PIPE", "SEMICOLON", "TAB"]},
        "jobType": {"const": "V2Query"},
        "numberRecordsProcessed": {"type": "integer", "minimum": 0},
        "retries": {"type": "integer", "minimum": 0},
        "totalProcessingTime": {"type": "integer", "minimum": 0},
        "isPkChunkingSupported": {"type": "boolean"},
        "errorMessage": {"type": "string"},
    },
    "additionalProperties": False,
}

SHAPES: dict[str, dict[str, Any]] = {
    "error_list": ERROR_LIST,
    "record": RECORD,
    "query_page": QUERY_PAGE,
    "save_result": SAVE_RESULT,
    "upsert_result": UPSERT_RESULT,
    "collection_results": COLLECTION_RESULTS,
    "updated": UPDATED,
    "deleted": DELETED,
    "limits": LIMITS,
    "token": TOKEN,
    "oauth_error": OAUTH_ERROR,
    "multiple_choices": MULTIPLE_CHOICES,
    "bulk_query_job": BULK_QUERY_JOB,
}
