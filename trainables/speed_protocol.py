"""How the speed lane times a network: the protocol's settings, checked (no torch: the service
reads them from the space file)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

BACKENDS = ("pytorch", "onnxruntime")


@dataclass(frozen=True, kw_only=True)
class SpeedProtocol:
    """How the lane times a network; part of every architecture key (changing it re-times)."""

    backend: str = "pytorch"        # or onnxruntime (CPU): the network exported to ONNX
    threads: int = 1                # CPU threads (intra-op) while timing; deployment-like and quiet
    warmup_s: float = 0.5           # warm-up by time, not by count: slow models get as long
    rounds: int = 7
    round_s: float = 0.3            # each round's length; its call count is set from the warm-up
    target_spread: float = 0.02     # re-measure while the round medians spread more than this
    max_background: float = 0.25    # ... or while other processes use more CPU (cores) than this
    attempts: int = 5
    retry_pause_s: float = 1.0      # before another attempt: a burst elsewhere (a start-up) can pass
    quiet_wait_s: float = 30.0      # wait at most this long in all for max_background before attempts

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"speed backend {self.backend!r}: must be one of {list(BACKENDS)}")
        if self.threads < 1 or self.rounds < 3 or self.attempts < 1:
            raise ValueError("speed protocol: threads >= 1, rounds >= 3 and attempts >= 1")
        positive = (self.warmup_s, self.round_s, self.target_spread, self.max_background)
        if min(positive) <= 0 or min(self.retry_pause_s, self.quiet_wait_s) < 0:
            raise ValueError("speed protocol: warmup_s, round_s, target_spread and max_background must be > 0, "
                             "retry_pause_s and quiet_wait_s >= 0")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
