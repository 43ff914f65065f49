"""worldtune's exceptions: each one says what is wrong, where (file, key), and how to fix it."""
from __future__ import annotations


class WorldtuneError(Exception):
    """Base of every error worldtune raises on purpose (bad input, impossible settings)."""


class DatasetError(WorldtuneError):
    """A dataset failed its checks; raised before any trial starts."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        super().__init__(format_problems(problems))


def format_problems(problems: list, limit_per_file: int = 25) -> str:
    """One line per problem, at most `limit_per_file` per file so a broken set stays readable."""
    lines: list[str] = []
    shown: dict[str, int] = {}
    for problem in problems:
        key = str(problem.file)
        shown[key] = shown.get(key, 0) + 1
        if shown[key] <= limit_per_file:
            lines.append(f"  {problem}")
    for key, count in shown.items():
        if count > limit_per_file:
            lines.append(f"  ... and {count - limit_per_file} more problems in {key}")
    return f"{len(problems)} dataset problem(s):\n" + "\n".join(lines)


class SpaceError(WorldtuneError):
    """A space file (or a flag overriding it) is wrong; raised before Ray or any trial starts."""

    def __init__(self, file: object, key: str, why: str) -> None:
        self.file, self.key, self.why = file, key, why
        super().__init__(f"{file}: key '{key}': {why}" if key else f"{file}: {why}")
