"""The OpenAPI 3.1 description of the agent-control API (hand-written; served without a token)."""
from __future__ import annotations

import copy

_ERROR = {"$ref": "#/components/responses/Error"}
_AGENT_ID = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "agent id from the roster, e.g. 1001"}
_STATUS_OK = {"description": "the agent's state after the change",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AgentStatus"}}}}


def _control(summary: str, body: dict | None = None, body_required: bool = False) -> dict:
    op = {"summary": summary, "tags": ["agents"], "parameters": [_AGENT_ID],
          "responses": {"200": _STATUS_OK, "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR,
                        "405": _ERROR, "409": _ERROR}}
    if body is not None:
        op["requestBody"] = {"required": body_required,
                             "content": {"application/json": {"schema": body}}}
    return {"post": op}


_DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "ctigw agent controls", "version": "1.0.0",
             "description": "Agent state controls and queue snapshots of the contact-centre gateway. "
                            "An agent token reaches only its own agent; a supervisor token reaches the "
                            "agents of its team and the queues whose policy names that team."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": {
        "/agents/{agent_id}": {"get": {
            "summary": "the agent's current state", "tags": ["agents"], "parameters": [_AGENT_ID],
            "responses": {"200": {"description": "the agent's state", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/AgentStatus"}}}},
                "401": _ERROR, "403": _ERROR, "404": _ERROR, "405": _ERROR}}},
        "/agents/{agent_id}/login": _control(
            "log in (available, or not ready with reason 'login' when ready is false)",
            {"type": "object", "additionalProperties": False,
             "properties": {"ready": {"type": "boolean", "default": True}}}),
        "/agents/{agent_id}/logout": _control("log out now, or once the call in progress is done"),
        "/agents/{agent_id}/ready": _control("available for calls"),
        "/agents/{agent_id}/not-ready": _control(
            "not ready with a reason, now or once the call in progress is done",
            {"type": "object", "additionalProperties": False, "required": ["reason"],
             "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 32,
                                       "examples": ["break", "lunch", "meeting"]}}},
            body_required=True),
        "/agents/{agent_id}/end-wrapup": _control("end wrap-up early (no change outside wrap-up)"),
        "/queues/{queue}": {"get": {
            "summary": "a queue's waiting calls and its agents by state (supervisors of its team)",
            "tags": ["queues"],
            "parameters": [{"name": "queue", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the queue snapshot", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/QueueSnapshot"}}}},
                "401": _ERROR, "403": _ERROR, "404": _ERROR, "405": _ERROR}}},
        "/openapi.json": {"get": {
            "summary": "this document", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    },
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `ctigw api-token`"}},
        "responses": {"Error": {"description": "an error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "AgentStatus": {"type": "object", "properties": {
                "agent_id": {"type": "string"},
                "state": {"type": "string", "enum": ["logged_out", "available", "reserved", "ringing",
                                                     "on_call", "wrap_up", "not_ready"]},
                "since": {"type": "number", "description": "Unix time the state began"},
                "reason": {"type": "string", "description": "not-ready reason"},
                "call_id": {"type": "string"}, "queue": {"type": "string"},
                "calls_handled": {"type": "integer"},
                "pending": {"type": "string", "description": "'logout' or 'not_ready:<reason>' after the call"},
                "wrapup_until": {"type": "number"}}},
            "QueueSnapshot": {"type": "object", "properties": {
                "queue": {"type": "string"}, "at": {"type": "number"},
                "waiting": {"type": "array", "items": {"type": "object", "properties": {
                    "call_id": {"type": "string"}, "position": {"type": "integer"},
                    "waited_seconds": {"type": "number"}, "effective_priority": {"type": "number"},
                    "language": {"type": ["string", "null"]},
                    "skills": {"type": "array", "items": {"type": "string"}},
                    "customer_tier": {"type": ["string", "null"]}}}},
                "longest_wait_seconds": {"type": "number"},
                "agents_by_state": {"type": "object", "additionalProperties": {"type": "integer"}}}},
        },
    },
}


def openapi_document() -> dict:
    """A fresh copy of the document (callers may change it)."""
    return copy.deepcopy(_DOCUMENT)
