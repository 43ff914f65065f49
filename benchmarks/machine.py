"""The machine a benchmark ran on, and the markdown file its figures go to."""
from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def describe_machine() -> str:
    import torch

    device = (f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
              else "no GPU")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU threads, {device}, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def write_report(name: str, title: str, setup: str, header: tuple[str, ...], rows: list[tuple],
                 notes: Sequence[str] = ()) -> str:
    """Write benchmarks/results/<name>.md and return its text (also what the script prints);
    `notes` are lines of reading below the table."""
    lines = [f"# {title}", "", f"- when: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
             f"- machine: {describe_machine()}", f"- setup: {setup}", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    lines += [""] + [f"- {note}" for note in notes] if notes else []
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text)
    return text
