"""Benchmark: does the speed lane give an architecture the same FPS in two separate searches?

Reads the speed caches (`<storage>/speed/<key>.json`) of two search storages made on the same
machine (e.g. the README's main command run in two fresh clones) and prints, per architecture
key both timed, the two figures and their difference (the target: within 3 %).

    .venv/bin/python benchmarks/lane_agreement.py /path/to/clone1/worldtune_runs /path/to/clone2/worldtune_runs
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import write_report  # noqa: E402

SHOWN = ("size", "use_depthwise", "neck_num_heads", "expand_ratio", "use_bn_head", "num_classes", "image_size")


def _records(storage: Path) -> dict[str, dict]:
    files = sorted((storage / "speed").glob("*.json"))
    if not files:
        raise SystemExit(f"no speed-lane figures in {storage / 'speed'}: run a search with that storage first")
    return {file.stem: json.loads(file.read_text()) for file in files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path, help="a search storage (storage.root)")
    parser.add_argument("second", type=Path, help="another search storage, same machine")
    args = parser.parse_args()
    first, second = _records(args.first), _records(args.second)
    shared = sorted(set(first) & set(second))
    rows, differences = [], []
    for key in shared:
        a, b = first[key]["fps"], second[key]["fps"]
        signature = first[key]["signature"]
        differences.append((b - a) / a)
        rows.append((key, ", ".join(f"{name} {signature[name]}" for name in SHOWN), f"{a:.2f}", f"{b:.2f}",
                     f"{differences[-1]:+.2%}"))
    worst = max((abs(d) for d in differences), default=0.0)
    protocol = first[shared[0]]["speed_protocol"] if shared else "n/a"
    setup = (f"{len(shared)} architecture key(s) timed by both searches ({len(first)} and {len(second)} in all); "
             f"largest difference {worst:.2%}; protocol: {protocol}; storages {args.first} and {args.second}")
    print(write_report("lane_agreement", "The same architecture timed by two searches", setup,
                       ("architecture key", "architecture", "FPS, first", "FPS, second", "difference"), rows))


if __name__ == "__main__":
    main()
