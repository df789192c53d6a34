"""Secrets never reach a log line: a logging filter (on the console handler, settings.LOGGING) masks API
keys (`mgmt_…`, `src_…`, `ptnr_…`), webhook secrets (`whsec_…`), bearer tokens and `key=` query values
in the message and its arguments, whatever logged them (Django's request log, Celery, the apps)."""

import logging
import re

_PATTERNS = [
    # API keys: <scope tag>_<12 hex prefix>_<secret>; the prefix (shown in the admin) stays readable
    (re.compile(r"\b((?:mgmt|src|ptnr)_[0-9a-f]{12}_)[A-Za-z0-9_\-]+"), r"\1[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_[redacted]"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",]+"), r"\1[redacted]"),
    (re.compile(r"(?i)([?&]key=)[^&\s'\"]+"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the formatter's to report, not this filter's
            return True
        cleaned = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
