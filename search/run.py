"""worldtune's entry point: `python search/run.py --space spaces/lightweight.yaml`.

For now it prepares and checks every dataset of the space (generating the demo sets on first use);
the Ray Tune + Optuna search itself is tracked in issue 5.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the project, not search/'s own folder
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import yaml  # noqa: E402

from search.datasets import DEMO_DATASETS, ensure_demo_dataset, ensure_valid  # noqa: E402
from search.errors import WorldtuneError  # noqa: E402


def _space_datasets(space_file: Path) -> list[str]:
    if not space_file.is_file():
        raise WorldtuneError(f"{space_file}: space file does not exist")
    space = yaml.safe_load(space_file.read_text()) or {}
    names = space.get("datasets") if isinstance(space, dict) else None
    if not isinstance(names, list) or not names:
        raise WorldtuneError(f"{space_file}: key 'datasets' must be a non-empty list of dataset names")
    unknown = [n for n in names if n not in DEMO_DATASETS]
    if unknown:
        raise WorldtuneError(f"{space_file}: key 'datasets': {unknown} are not demo sets "
                             f"({sorted(DEMO_DATASETS)}); own datasets come with issue 5")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python search/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--space", type=Path, required=True, help="search-space YAML file")
    args = parser.parse_args(argv)
    try:
        for name in _space_datasets(args.space):
            files = ensure_demo_dataset(name)
            ensure_valid(files)
            print(f"[worldtune] dataset {name!r}: {files.root} checked, no problems")
    except WorldtuneError as error:
        print(f"[worldtune] error: {error}", file=sys.stderr)
        return 2
    print("[worldtune] the environment and the data are ready. The search itself (Ray Tune + Optuna, "
          "MLflow, Pareto front) is not implemented yet: see issue 5.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
