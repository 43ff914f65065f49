"""Export one trial as a self-contained folder to deploy or fine-tune further.

    python search/export.py --space lightweight --dataset demo-defects [--trial ID] [--out DIR]

Default: the recommended trial of the latest finished search. The folder holds the resolved
mmengine config (`config.py`, plus `predict_pipeline` for inference), the trained weights
(`model.pth`, weights only), the network as ONNX (`model.onnx`), the class-name file, the
trial's metrics, a local text encoder folder if the trial used one, and `reparameterized/`: the
text-free model with the classes baked in (when the head allows it).
`trainables.exported.load_exported` loads it back without any search code (see README.md in the
folder).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the project, not search/'s own folder
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from search.environment import configure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    configure()  # before MLflow is imported: it reads it once
    from search.tracking.exporting import export_stored
    from search.tracking.store import add_store_arguments

    parser = argparse.ArgumentParser(prog="python search/export.py", description=__doc__.split("\n")[0])
    add_store_arguments(parser)
    parser.add_argument("--trial", help="trial id (default: the study's recommended trial)")
    parser.add_argument("--out", type=Path, default=Path("exported"), help="parent folder; default %(default)s")
    return export_stored(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
