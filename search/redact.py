"""Keeping secrets out of what worldtune logs, prints and stores.

Tokens and keys live in the environment (HF_TOKEN, AWS_SECRET_ACCESS_KEY, MLFLOW_TRACKING_TOKEN,
...) or in a tracking URI (`https://user:password@host`). Every parameter, tag and message
worldtune sends to MLflow goes through `redact`, and so does everything `search/run.py` prints
(`redacted_output`); a password in the MLflow URI is moved
into MLflow's own credential variables, so the URI that Tune pickles with the experiment holds
none.
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|AUTH", re.IGNORECASE)
MIN_SECRET_LENGTH = 6
"""Shorter values ("1", "true") would mask ordinary text everywhere and protect nothing."""
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@", re.IGNORECASE)
_QUERY_SECRET = re.compile(r"([?&][a-z_-]*(?:token|key|password|secret|sig|signature)=)[^&\s]+", re.IGNORECASE)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret, longest first."""
    environ = os.environ if environ is None else environ
    values = {value for name, value in environ.items() if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with URL passwords, secret query parameters and secret environment values masked."""
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)
    text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    for value in secret_values(environ):
        text = text.replace(value, MASK)
    return text


def credentials_to_environment(uri: str) -> str:
    """An http(s) URI without its `user:password@`; they go to MLFLOW_TRACKING_USERNAME/PASSWORD
    (unless already set), where MLflow's client reads them and nothing logs them."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or parts.password is None:
        return uri
    os.environ.setdefault("MLFLOW_TRACKING_USERNAME", parts.username or "")
    os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", parts.password)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    host += f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class _RedactingStream:
    """A text stream that masks secrets in everything written to it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> object:  # flush, isatty, fileno, encoding, ...
        return getattr(self._stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """Within this block, what this process prints to stdout and stderr (its own messages, Tune's
    tables, worker logs Ray forwards) has secrets masked."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _RedactingStream(sys.stdout), _RedactingStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
