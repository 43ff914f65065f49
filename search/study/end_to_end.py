"""After a study: the front's trials timed end to end (network, decoding, NMS) with their weights.

The front itself stands on the speed lane's network figures; this adds, for the models a user
would pick from, what a deployment sees with the trained weights (`trainables.end_to_end`). It is
timed while no trial trains on the node (the CPU lane), on one real validation image. A failure
here costs the figure, never the study.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from search.results.front import Outcome, pareto_front
from trainables.api import TrainedTrial, time_end_to_end
from trainables.dataset_files import DatasetFiles
from trainables.speed_protocol import SpeedProtocol


def first_val_image(data: DatasetFiles) -> Path:
    images = json.loads(data.val.annotation_file.read_text())["images"]
    return data.val.image_dir / images[0]["file_name"]


def with_end_to_end(outcomes: Sequence[Outcome], data: DatasetFiles, protocol: SpeedProtocol
                    ) -> tuple[list[Outcome], str | None]:
    """The outcomes with `fps_e2e` set on the front's trials, and the figures' protocol label
    (None when there is nothing to time, or the timing failed: said on the console)."""
    front = [TrainedTrial(o.trial_id, o.values, o.checkpoint) for o in pareto_front(outcomes) if o.checkpoint]
    if not front:
        return list(outcomes), None
    try:
        timed, label = time_end_to_end(front, data, first_val_image(data), protocol)
    except Exception as error:  # noqa: BLE001 - an extra figure; the study's results stand without it
        print(f"[worldtune] {data.name}: end-to-end timing of the front skipped ({type(error).__name__}: "
              f"{str(error).splitlines()[0][:300] if str(error) else ''})", flush=True)
        return list(outcomes), None
    return [replace(o, fps_e2e=timed.get(o.trial_id)) for o in outcomes], label
