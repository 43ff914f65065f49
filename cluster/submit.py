"""Submit a worldtune search to a running Ray cluster as a Ray job, and follow it.

    python cluster/submit.py --address http://127.0.0.1:8265 --space spaces/lightweight.yaml \\
        --storage /mnt/worldtune/runs --mlflow-uri http://127.0.0.1:5000 --trials 40

Every flag this script does not know goes to `search/run.py` on the cluster. The space file is
checked here first; the project folder is shipped as the job's working directory (data, results,
virtual environments and caches left out: RUNTIME_ENV_EXCLUDES), so the head runs this checkout's
code. The plain Ray command that does the same:

    ray job submit --address http://127.0.0.1:8265 --working-dir . \\
        --runtime-env-json '{"excludes": [...RUNTIME_ENV_EXCLUDES...]}' \\
        -- python search/run.py --space spaces/lightweight.yaml

The address is the dashboard's (port 8265), reached through an SSH tunnel or `kubectl
port-forward` (docs/cluster.md): the dashboard is never exposed to the internet. A cluster with
token authentication needs its token: ~/.ray/auth_token, RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: import the project, not cluster/'s own folder
    sys.path[0] = str(ROOT)

from search.errors import SpaceError, WorldtuneError  # noqa: E402
from search.space.loading import load_space  # noqa: E402

RUNTIME_ENV_EXCLUDES = ["/.?*", "/data", "/outputs", "/worldtune_runs", "/exported", "/mlruns", "/tests",
                        "**/__pycache__", "*.egg-info", "*.db"]
"""Left out of the shipped working directory (gitignore patterns; a leading / anchors at the
project root, so trainables/yolo_world/data stays; `.?*`, not `.*`, which would match the root
"." itself): hidden folders (.git, .venv, caches), data and results, which live on the cluster's
shared storage, the environment, which is in its image, and the tests with their reference
fixtures (tens of MB of official weights and outputs that a search never reads)."""


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python cluster/submit.py", description=__doc__.split("\n")[0],
                                     epilog="Any other flag is passed to search/run.py on the cluster.")
    parser.add_argument("--address", default=os.environ.get("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:8265"),
                        help="the cluster's dashboard/job address (default: $RAY_API_SERVER_ADDRESS or "
                        "http://127.0.0.1:8265, a tunnelled head)")
    parser.add_argument("--space", type=Path, required=True, help="search-space YAML inside this project")
    parser.add_argument("--python", default="python", help="the cluster's Python with worldtune installed "
                        "(default: `python` on the head's PATH, the image's virtual environment)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment variable for the job, e.g. WORLDTUNE_DATA_DIR=/mnt/worldtune/data; "
                        "repeatable")
    parser.add_argument("--submission-id", help="the job id to use (default: worldtune_<space>_<random>)")
    parser.add_argument("--no-follow", action="store_true", help="print the job id and return at once")
    return parser.parse_known_args(argv)


def shipped_space(space: Path) -> str:
    """The space's path inside the shipped project, after checking the file: a broken space is
    reported here, with its file and key, before anything reaches the cluster."""
    file = space.resolve()
    if not file.is_relative_to(ROOT):
        raise SpaceError(space, "", f"the space file must be inside the project folder {ROOT}, which is what "
                         f"the job ships; copy it to {ROOT / 'spaces'}")
    load_space(file)
    return file.relative_to(ROOT).as_posix()


def entrypoint(python: str, space: str, run_flags: list[str]) -> str:
    """The shell command the head runs, from the shipped project folder."""
    return shlex.join([python, "search/run.py", "--space", space, *run_flags])


def runtime_env(env: list[str]) -> dict:
    """This project as the job's working directory, plus the job's environment variables."""
    variables = {"PYTHONUNBUFFERED": "1"}
    for item in env:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise WorldtuneError(f"--env {item!r}: expected NAME=VALUE")
        variables[name] = value
    return {"working_dir": str(ROOT), "excludes": RUNTIME_ENV_EXCLUDES, "env_vars": variables}


def _use_token_if_present() -> None:
    """Send the token when one is at hand: Ray's client only does under RAY_AUTH_MODE=token, and
    a cluster without authentication ignores it."""
    have = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") \
        or (Path.home() / ".ray" / "auth_token").is_file()
    if have:
        os.environ.setdefault("RAY_AUTH_MODE", "token")


AGENT_BUSY = "No available agent to submit job"
"""What Ray's job head answers (HTTP 500, "please try again later") when no job agent answered
within 10 s: one still starting, or a head under load."""


def submit_retrying(submit: Callable[[], str], waits_s: tuple[float, ...] = (2, 4, 8, 16)) -> str:
    """`submit()`, tried again after each wait while the head's job agent is busy. The job id is
    fixed before the first try, so a try the agent did accept is never submitted twice: the
    retry is refused as a duplicate instead."""
    for wait_s in waits_s:
        try:
            return submit()
        except RuntimeError as error:
            if AGENT_BUSY not in str(error):
                raise
            print(f"[worldtune] the cluster's job agent is busy; submitting again in {wait_s:g} s", flush=True)
            time.sleep(wait_s)
    return submit()


def job_id_for(space: str) -> str:
    """A job id that names the search on the dashboard's job list."""
    return f"worldtune_{Path(space).stem}_{secrets.token_hex(4)}"


async def _follow(client, job_id: str) -> None:
    async for lines in client.tail_job_logs(job_id):
        print(lines, end="", flush=True)


def main(argv: list[str] | None = None) -> int:
    args, run_flags = _parse(argv)
    try:
        space, env = shipped_space(args.space), runtime_env(args.env)
    except WorldtuneError as error:
        print(f"[worldtune] error: {error}", file=sys.stderr)
        return 2
    _use_token_if_present()
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(args.address)
    command = entrypoint(args.python, space, run_flags)
    print(f"[worldtune] submitting to {args.address}: {command} (working dir {ROOT}, shipped)", flush=True)
    job_id = submit_retrying(lambda: client.submit_job(
        entrypoint=command, runtime_env=env, submission_id=args.submission_id or job_id_for(space),
        metadata={"worldtune_space": space}))
    print(f"[worldtune] job id: {job_id}\n[worldtune] dashboard: {args.address.rstrip('/')}/#/jobs/{job_id}\n"
          f"[worldtune] follow: ray job logs --follow --address {args.address} {job_id}; stop: ray job stop "
          f"--address {args.address} {job_id}", flush=True)
    if args.no_follow:
        return 0
    asyncio.run(_follow(client, job_id))
    while not (status := client.get_job_status(job_id)).is_terminal():  # the log can end first
        time.sleep(1)
    print(f"[worldtune] job {job_id}: {status.value}", flush=True)
    return 0 if status.value == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
