"""Reading YOLO-World class-text files: one list of synonyms per class, e.g. [["scratch"], ["dent"]].

Every text transform and the dataset wrapper read them here, so a broken file fails the same way
everywhere: with its path, the entry at fault and the expected shape.
"""
from __future__ import annotations

import json
from pathlib import Path

ClassTexts = list[list[str]]
"""One entry per class (in label order); each entry lists that class's synonyms."""

EXPECTED_SHAPE = 'a JSON list with one non-empty list of texts per class, e.g. [["scratch"], ["dent"]]'


class ClassTextError(ValueError):
    """A class-text file or list that YOLO-World cannot use."""


def validate_class_texts(texts: object, where: str) -> ClassTexts:
    """`texts` if it is a list of non-empty lists of non-empty strings; `where` names its origin."""
    if not isinstance(texts, list) or not texts:
        raise ClassTextError(f"{where}: expected {EXPECTED_SHAPE}, "
                             f"got {type(texts).__name__} {texts!r:.80}")
    for index, entry in enumerate(texts):
        if not (isinstance(entry, list) and entry
                and all(isinstance(t, str) and t.strip() for t in entry)):
            raise ClassTextError(f"{where}: entry {index} is {entry!r}; expected {EXPECTED_SHAPE}")
    return texts


def load_class_texts(path: str | Path) -> ClassTexts:
    """Read and check a class-text file."""
    path = Path(path)
    try:
        texts = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ClassTextError(f"cannot read the class-text file {path}: {error.strerror}. "
                             f"Pass class_text_path / text_path pointing at {EXPECTED_SHAPE}") from error
    except json.JSONDecodeError as error:
        raise ClassTextError(f"class-text file {path} is not valid JSON ({error}); "
                             f"expected {EXPECTED_SHAPE}") from error
    return validate_class_texts(texts, f"class-text file {path}")
