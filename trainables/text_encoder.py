"""Which text encoder a trial uses and how wide its embeddings are, known without building it.

Light on purpose (numpy; transformers only when a hub id or folder is asked about): the search
resolves `model.text_encoder` while it plans, before Ray or any model code.
"""
from __future__ import annotations

import numpy as np

CLIP_BASE = "openai/clip-vit-base-patch32"
"""The official YOLO-World text tower: the default encoder."""


class TextEncoderNotFound(FileNotFoundError):
    """The text encoder is neither a local folder nor in the local Hugging Face cache."""


def text_width(text_encoder: str) -> int:
    """The embedding width of a CLIP text tower (hub id or folder, never downloaded) or an .npy."""
    if text_encoder.endswith(".npy"):
        return int(np.load(text_encoder, mmap_mode="r").shape[1])
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(text_encoder, local_files_only=True)
    except OSError as error:
        raise TextEncoderNotFound(
            f"text_encoder {text_encoder!r} is not a local folder and not in the local Hugging Face "
            f"cache; worldtune downloads nothing at run time: download it beforehand "
            f"(huggingface-cli download {text_encoder}) or give a local path") from error
    return int(getattr(config, "projection_dim", None) or config.text_config.projection_dim)
