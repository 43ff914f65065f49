"""What the official-fixture tests share: full-size CLIP text towers."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def full_size_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """CLIP base-patch32 and large-patch14-336 text towers (architecture only, random)."""
    from search.datasets.demo_text_encoder import write_clip_text_model

    root = tmp_path_factory.mktemp("clip")
    base = write_clip_text_model(root / "base", hidden_size=512, num_layers=12, num_heads=8,
                                 intermediate_size=2048, projection_dim=512, vocab_size=49408)
    large = write_clip_text_model(root / "large", hidden_size=768, num_layers=12, num_heads=12,
                                  intermediate_size=3072, projection_dim=768, vocab_size=49408)
    return {"openai/clip-vit-base-patch32": str(base),
            "openai/clip-vit-large-patch14-336": str(large)}
