"""MLflow writes that survive an MLflow outage: queued in order, replayed when the server is back.

A search runs for days; the tracking server may restart or drop off the network meanwhile. Every
write worldtune's search driver makes (child runs, per-epoch metrics, status, the front) goes
through one `Outbox` per tracking URI: while MLflow answers, a write happens at once; when it
fails, it and every later write wait in order, retried at most every `retry_every_s`, and the
search goes on. At the end of a study the outbox is drained (waiting a bounded time); what still
cannot be written is returned so the study can report the gap. A write MLflow rejects as invalid
is dropped with a warning instead of blocking the queue.
"""
from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from search.redact import redact

MLFLOW_WAIT_S = float(os.environ.get("WORLDTUNE_MLFLOW_WAIT_S", "120"))
"""How long the end of a study (and of its analysis) waits for an unreachable MLflow before
reporting the gap."""

REJECTED = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST", "RESOURCE_ALREADY_EXISTS",
            "INVALID_STATE"}
"""MLflow error codes that a retry cannot fix: the write is dropped (and said so)."""

Write = Callable[[MlflowClient], object]


def _say(message: str) -> None:
    print(f"[worldtune] {redact(message)}", file=sys.stderr, flush=True)


class Outbox:
    """Ordered MLflow writes with replay after an outage (one per tracking URI and process)."""

    def __init__(self, uri: str, retry_every_s: float = 10.0) -> None:
        self.uri, self.retry_every_s = uri, retry_every_s
        self.client = MlflowClient(uri)
        self._pending: deque[tuple[str, Write]] = deque()
        self._down_since: float | None = None
        self._last_try = 0.0
        self.last_error = ""

    @property
    def pending(self) -> list[str]:
        """What is still waiting to be written, oldest first."""
        return [what for what, _ in self._pending]

    def send(self, what: str, write: Write) -> None:
        """Write now if MLflow is reachable and nothing waits before it, else queue it."""
        self._pending.append((what, write))
        self.flush()

    def flush(self, force: bool = False) -> bool:
        """Write what is pending, in order; while MLflow is down, try at most every
        `retry_every_s` unless `force`. True when nothing is left."""
        now = time.monotonic()
        if self._down_since is not None and not force and now - self._last_try < self.retry_every_s:
            return not self._pending
        self._last_try = now
        while self._pending:
            what, write = self._pending[0]
            try:
                write(self.client)
            except MlflowException as error:
                if error.error_code in REJECTED:
                    _say(f"MLflow rejected '{what}', not retried: {error}")
                    self._pending.popleft()
                    continue
                return self._went_down(error)
            except Exception as error:  # connection errors, a locked SQLite store, ...
                return self._went_down(error)
            self._pending.popleft()
        if self._down_since is not None:
            _say(f"MLflow at {self.uri} is back after {time.time() - self._down_since:.0f} s: "
                 "the writes queued meanwhile are logged")
            self._down_since = None
        return True

    def _went_down(self, error: Exception) -> bool:
        self.last_error = str(error).splitlines()[0][:500] if str(error) else type(error).__name__
        if self._down_since is None:
            self._down_since = time.time()
            _say(f"MLflow at {self.uri} is unreachable ({self.last_error}); the search goes on and its "
                 f"results are queued until MLflow is back")
        return False

    def drain(self, wait_s: float) -> list[str]:
        """Retry for up to `wait_s` seconds until everything is written; what is left."""
        deadline = time.monotonic() + wait_s
        while not self.flush(force=True) and time.monotonic() < deadline:
            time.sleep(min(self.retry_every_s, max(deadline - time.monotonic(), 0.0)))
        return self.pending


_OUTBOXES: dict[str, Outbox] = {}


def outbox_for(uri: str) -> Outbox:
    """The process's outbox for `uri`: Tune callbacks (also after being unpickled on resume) and
    the study share it, so all writes stay in one order."""
    if uri not in _OUTBOXES:
        _OUTBOXES[uri] = Outbox(uri)
    return _OUTBOXES[uri]
