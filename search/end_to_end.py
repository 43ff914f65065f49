"""After a study: the front's trials timed end to end (network, decoding, NMS) with their weights.

The front itself stands on the speed lane's network figures; this adds, for the models a user
would pick from, what a deployment sees with the trained weights (`trainables.end_to_end`). It is
timed while no trial trains on the node (the CPU lane), on one real validation image. A failure
here costs the figure, never the study.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from search.front import Outcome, pareto_front
from trainables.dataset_files import DatasetFiles
from trainables.speed_protocol import SpeedProtocol


def first_val_image(data: DatasetFiles) -> Path:
    images = json.loads(data.val.annotation_file.read_text())["images"]
    return data.val.image_dir / images[0]["file_name"]


def with_end_to_end(outcomes: Sequence[Outcome], data: DatasetFiles, protocol: SpeedProtocol
                    ) -> tuple[list[Outcome], str | None]:
    """The outcomes with `fps_e2e` set on the front's trials, and the figures' protocol label
    (None when there is nothing to time, or the timing failed: said on the console)."""
    from trainables.cpu_lane import exclusive_cpus
    from trainables.end_to_end import deployed_for_end_to_end, image_batch, reference_model, time_end_to_end
    from trainables.trained import load_trained

    front = [o for o in pareto_front(outcomes) if o.checkpoint]
    if not front:
        return list(outcomes), None
    try:
        with tempfile.TemporaryDirectory() as folder:
            image, models, first = first_val_image(data), {}, None
            for o in front:
                trained = load_trained(o.values, data, o.checkpoint, Path(folder) / o.trial_id)
                first = first or trained
                models[o.trial_id] = (deployed_for_end_to_end(trained.model, trained.deployed_texts),
                                      image_batch(image, trained.params.image_size))
            reference = (reference_model(first.params.size, len(first.class_texts)),
                         image_batch(image, first.params.image_size))
            with exclusive_cpus():
                timed = time_end_to_end(models, reference=reference, protocol=protocol)
    except Exception as error:  # noqa: BLE001 - an extra figure; the study's results stand without it
        print(f"[worldtune] {data.name}: end-to-end timing of the front skipped ({type(error).__name__}: "
              f"{str(error).splitlines()[0][:300] if str(error) else ''})", flush=True)
        return list(outcomes), None
    return [replace(o, fps_e2e=timed.of(o.trial_id)) for o in outcomes], timed.protocol
