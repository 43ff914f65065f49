"""The demo text encoder: a small local stand-in for a CLIP text tower, so nothing is downloaded.

A fresh machine has no CLIP weights and worldtune downloads nothing at run time, so the demo
searches (and the tests) use this: a byte-level BPE trained on a few words, wrapped as a fast
tokenizer with CLIP's special tokens, and a randomly initialised CLIPTextModelWithProjection,
saved together. ``AutoTokenizer`` / ``CLIPTextModelWithProjection.from_pretrained(folder)`` then
load it exactly like ``openai/clip-vit-base-patch32``, through the same code path.
"""
from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import CLIPTextConfig, CLIPTextModelWithProjection, PreTrainedTokenizerFast

from search.datasets.atomic import write_folder_atomically

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
WORDS = ["scratch", "dent", "rust", "crack", "hole", "stain", "nodule", "cyst", "mass",
         "calcification", "ground glass opacity", "person", "bicycle", "car", "dog", "cat",
         "a photo of a", "defect", "lesion", "metal", "surface"]


def build_tokenizer(vocab_size: int = 300) -> PreTrainedTokenizerFast:
    """Byte-level BPE with bos/eos added around every text and eos as padding."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(WORDS * 4, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        special_tokens=[(BOS, tokenizer.token_to_id(BOS)), (EOS, tokenizer.token_to_id(EOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS,
                                   pad_token=EOS, model_max_length=77)


def write_clip_text_model(folder: Path, *, hidden_size: int = 32, num_layers: int = 2,
                          num_heads: int = 2, intermediate_size: int = 64,
                          projection_dim: int = 32, vocab_size: int | None = None) -> Path:
    """Save tokenizer + randomly initialised CLIP text tower into ``folder``.

    ``vocab_size`` above the tokenizer's (e.g. CLIP's 49408) only widens the
    embedding table, for tests that compare state-dict shapes with real CLIP.
    """
    tokenizer = build_tokenizer()
    config = CLIPTextConfig(
        vocab_size=vocab_size or len(tokenizer), hidden_size=hidden_size,
        intermediate_size=intermediate_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, max_position_embeddings=77,
        projection_dim=projection_dim, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    folder.mkdir(parents=True, exist_ok=True)
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


DEMO_TEXT_ENCODER = "demo-clip-text"
"""Folder name of the generated demo text encoder, next to the demo datasets."""


def ensure_demo_text_encoder(root: Path) -> Path:
    """The demo text encoder folder under `root`, written once (atomically, seeded)."""
    target = Path(root).absolute() / DEMO_TEXT_ENCODER
    if target.is_dir():
        return target
    import torch

    def write(folder: Path) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            write_clip_text_model(folder)

    return write_folder_atomically(target, write)
