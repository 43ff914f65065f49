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
    attempts: int = 3

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"speed backend {self.backend!r}: must be one of {list(BACKENDS)}")
        if self.threads < 1 or self.rounds < 3 or self.attempts < 1:
            raise ValueError("speed protocol: threads >= 1, rounds >= 3 and attempts >= 1")
        if min(self.warmup_s, self.round_s, self.target_spread) <= 0:
            raise ValueError("speed protocol: warmup_s, round_s and target_spread must be > 0")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
