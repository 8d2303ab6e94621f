"""Logging set-up: text or JSON lines, and a last-line filter that keeps secrets out.

Modules log with the stdlib `logging.getLogger(__name__)`. The protocol layers already
redact what they log; the filter here is the safety net for anything that slips through
(e.g. an exception message quoting a frame with `Secret:`).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time

_SECRET_PATTERNS = [
    re.compile(r"(?i)((?:secret|key|password)\s*[:=]\s*)([^\s,;'\"\\]+)"),
    re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)"),
]


def redact(text: str, extra_secrets: tuple[str, ...] = ()) -> str:
    for secret in extra_secrets:
        if secret:
            text = text.replace(secret, "********")
    text = _SECRET_PATTERNS[0].sub(r"\1********", text)
    return _SECRET_PATTERNS[1].sub(r"\1********\3", text)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: tuple[str, ...] = ()):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: tuple[str, ...] = (), stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic announces every plugin it loads at INFO; only its warnings matter to us.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
