"""Benchmark: search strategies replayed against a table of real trials, many seeds in minutes.

A search here asks its Optuna sampler for a trial, looks the trial up in the table written by
`benchmarks/trial_table.py` (real worldtune trials: per-epoch accuracy, lane FPS) instead of
training it, feeds the epochs to the service's own scheduler (search/study/tuner.py:make_scheduler,
the same objects a search uses) and tells Optuna how the trial ended, as the service does
(finished: its accuracy and FPS; stopped: PRUNED). Trials run one after the other (the service
runs a few at once, with constant liar for TPE). Measured per step: trials told, epochs spent,
and the hypervolume of the front of the finished trials, with the reference point fixed in
advance, the service's own: (accuracy 0, FPS 0).

    .venv/bin/python benchmarks/replay.py [--table benchmarks/data/trial_table.json] [--seeds 20]

Writes benchmarks/results/replay.md (HV mean +- standard error at 10, 20 and 40 trials, its ratio
to random search, the epochs each scheduler needs to reach the hypervolume that running every
trial in full reaches at 20 trials) and replay.png. `qnehvi` needs `pip install -e .[bench]`
(optuna-integration and BoTorch); without them it is left out, and the report says so.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

sys.path[0] = str(Path(__file__).resolve().parents[1])

import optuna  # noqa: E402

from benchmarks.machine import RESULTS, write_report  # noqa: E402
from search.results.front import Outcome, hypervolume, pareto_front  # noqa: E402
from search.space.distributions import from_choice_value, to_choice_value  # noqa: E402
from trainables.contract import TrialEnd  # noqa: E402

CHECKPOINTS = (10, 20, 40)
SCHEDULER_GRACE, SCHEDULER_ETA = 2, 2   # the lightweight space's
SAMPLERS = ("random", "tpe", "nsga2", "gp", "qnehvi")
SCHEDULERS = ("none", "asha", "pareto")


@dataclass(frozen=True)
class TableTrial:
    """One real trial of the table: its accuracy after each epoch and its lane speed."""

    params: dict
    curve: tuple[float, ...]
    speed: float

    @property
    def epochs(self) -> int:
        return len(self.curve)


@dataclass(frozen=True)
class Table:
    """One dataset's trials, looked up by their parameter values."""

    dataset: str
    design: dict[str, list]
    trials: tuple[TableTrial, ...]

    @classmethod
    def load(cls, file: Path, accuracy: str = "map") -> list[Table]:
        data = json.loads(file.read_text())
        tables = []
        for dataset in data["datasets"]:
            rows = [r for r in data["trials"] if r["dataset"] == dataset and r["finished_budget"] and r["curve"]]
            trials = tuple(TableTrial(r["params"], tuple(point[accuracy] or 0.0 for point in r["curve"]), r["fps"])
                           for r in rows)
            tables.append(cls(dataset, data["design"], trials))
        return tables

    def lookup(self, params: dict) -> TableTrial:
        """The trial of the values Optuna asked for (list choices come as the service stores them)."""
        return next(t for t in self.trials
                    if all(t.params[name] == from_choice_value(params[name]) for name in self.design))

    @property
    def full_hypervolume(self) -> float:
        """The hypervolume of every trial of the table run in full: what a search can reach."""
        return hypervolume(pareto_front([_outcome(str(i), t, finished=True) for i, t in enumerate(self.trials)]))

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """The design as Optuna sees it: every factor a categorical choice (the table is a grid)."""
        return {name: optuna.distributions.CategoricalDistribution([to_choice_value(v) for v in values])
                for name, values in self.design.items()}


def _outcome(trial_id: str, trial: TableTrial, *, finished: bool, epochs: int | None = None) -> Outcome:
    epochs = trial.epochs if epochs is None else epochs
    status = TrialEnd.FINISHED if finished else TrialEnd.STOPPED_EARLY
    return Outcome(trial_id, status, trial.curve[epochs - 1], trial.speed, epochs=epochs)


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """The service's samplers as it builds them, and the one it does not ship (qNEHVI)."""
    if name == "qnehvi":
        from optuna_integration import BoTorchSampler
        from optuna_integration.botorch import qnehvi_candidates_func

        return BoTorchSampler(candidates_func=qnehvi_candidates_func, seed=seed)
    from search.space.schema import SamplerSpec
    from search.study.tuner import make_sampler as service_sampler

    return service_sampler(SamplerSpec(type=name, seed=seed))


def make_scheduler(name: str, max_epochs: int):
    from search.space.schema import ObjectivesSpec, SchedulerSpec
    from search.study.tuner import make_scheduler as service_scheduler

    spec = SchedulerSpec(type=name, grace_period=SCHEDULER_GRACE, reduction_factor=SCHEDULER_ETA)
    return service_scheduler(spec, ObjectivesSpec(), max_epochs)


def stopped_at(scheduler, trial_id: str, trial: TableTrial) -> int | None:
    """The epoch the scheduler stops the trial at (None: it ran its budget); the scheduler sees
    the reports a real trial sends (Tune's `training_iteration`, the accuracy, the lane speed)."""
    from ray.tune.schedulers import TrialScheduler

    if scheduler is None:
        return None
    handle = SimpleNamespace(trial_id=trial_id)   # all the schedulers read of a Tune trial
    scheduler.on_trial_add(None, handle)
    for epoch, accuracy in enumerate(trial.curve, start=1):
        result = {"training_iteration": epoch, "map": accuracy, "fps": trial.speed}
        if scheduler.on_trial_result(None, handle, result) == TrialScheduler.STOP and epoch < trial.epochs:
            scheduler.on_trial_remove(None, handle)   # what Tune does with a trial it stops
            return epoch
    scheduler.on_trial_complete(None, handle, result)
    return None


@dataclass(frozen=True)
class Step:
    trials: int
    epochs: int
    hypervolume: float


def replay(table: Table, sampler: optuna.samplers.BaseSampler, scheduler, budget: int) -> list[Step]:
    """One search of `budget` trials against the table; a step after each trial."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "maximize"], sampler=sampler)
    distributions = table.distributions()
    finished: list[Outcome] = []
    steps, epochs = [], 0
    for number in range(budget):
        asked = study.ask(distributions)
        trial = table.lookup(asked.params)
        stop = stopped_at(scheduler, str(number), trial)
        if stop is None:
            study.tell(asked, [trial.curve[-1], trial.speed])
            finished.append(_outcome(str(number), trial, finished=True))
            epochs += trial.epochs
        else:
            study.tell(asked, state=optuna.trial.TrialState.PRUNED)
            epochs += stop
        steps.append(Step(number + 1, epochs, hypervolume(pareto_front(finished))))
    return steps


def _one(args: tuple[Table, str, str, int, int]) -> tuple[str, str, str, int, list[Step], float]:
    table, sampler, scheduler, seed, budget = args
    started = time.monotonic()
    steps = replay(table, make_sampler(sampler, seed), make_scheduler(scheduler, table.trials[0].epochs), budget)
    return table.dataset, sampler, scheduler, seed, steps, time.monotonic() - started


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0)


def epochs_to_reach(steps: Sequence[Step], target: float) -> int | None:
    """Epochs spent when the hypervolume first reached `target` (None: never within the budget)."""
    return next((s.epochs for s in steps if s.hypervolume >= target - 1e-12), None)


def available_samplers(wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """(usable, left out with why)."""
    usable, left = [], []
    for name in wanted:
        try:
            make_sampler(name, 0)
            usable.append(name)
        except ImportError as error:
            left.append(f"{name} ({error.name or error} is not installed: pip install -e .[bench])")
    return usable, left


Runs = dict[tuple[str, str, str, int], list[Step]]


def seeds_of(runs: Runs, dataset: str, sampler: str, scheduler: str = "none") -> list[int]:
    """The seeds a search was replayed with (qNEHVI, the slow one, may have fewer)."""
    return sorted(s for d, smp, sch, s in runs if (d, smp, sch) == (dataset, sampler, scheduler))


def sampler_rows(tables: Sequence[Table], runs: Runs, samplers: Sequence[str]) -> list[tuple]:
    """HV at each checkpoint (mean +- SE over seeds, as a fraction of the table's full HV) and its
    ratio to random search, no early stopping."""
    rows = []
    for table in tables:
        full, d = table.full_hypervolume, table.dataset

        def at(sampler: str, n: int) -> tuple[float, float]:
            return mean_se([runs[d, sampler, "none", s][n - 1].hypervolume for s in seeds_of(runs, d, sampler)])

        for sampler in samplers:
            cells = []
            for n in CHECKPOINTS:
                mean, se = at(sampler, n)
                cells += [f"{mean / full:.3f} ± {se / full:.3f}", f"{mean / at('random', n)[0]:.3f}"]
            rows.append((d, sampler, len(seeds_of(runs, d, sampler)), *cells))
    return rows


def scheduler_rows(tables: Sequence[Table], runs: Runs, samplers: Sequence[str], seeds: Sequence[int],
                   at: int = 20) -> list[tuple]:
    """Per sampler and scheduler: HV and epochs after `at` trials, and the epochs needed to reach
    the HV that the same sampler without early stopping has after `at` trials (its mean)."""
    rows = []
    for table in tables:
        full = table.full_hypervolume
        for sampler in samplers:
            target = mean_se([runs[table.dataset, sampler, "none", s][at - 1].hypervolume for s in seeds])[0]
            plain_epochs = None
            for scheduler in SCHEDULERS:
                series = [runs[table.dataset, sampler, scheduler, s] for s in seeds]
                hv, hv_se = mean_se([steps[at - 1].hypervolume for steps in series])
                spent, spent_se = mean_se([steps[at - 1].epochs for steps in series])
                reached = [e for e in (epochs_to_reach(steps, target) for steps in series) if e is not None]
                needed = statistics.fmean(reached) if reached else None
                plain_epochs = needed if scheduler == "none" else plain_epochs
                saved = "" if needed is None or scheduler == "none" or not plain_epochs else \
                    f"{1 - needed / plain_epochs:+.0%}"
                rows.append((table.dataset, sampler, scheduler, f"{hv / full:.3f} ± {hv_se / full:.3f}",
                             f"{spent:.0f} ± {spent_se:.0f}", f"{len(reached)}/{len(series)}",
                             "-" if needed is None else f"{needed:.0f}", saved or "-"))
    return rows


def plot(tables: Sequence[Table], runs: Runs, samplers: Sequence[str], seeds: Sequence[int], budget: int,
         path: Path) -> Path:
    """Per dataset: HV (fraction of the table's) against trials per sampler, and against epochs
    spent per scheduler (the default sampler), mean with a band of +- one standard error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(tables), 2, figsize=(11, 4.2 * len(tables)), dpi=110, squeeze=False)
    trials = list(range(1, budget + 1))
    for row, table in zip(axes, tables):
        full = table.full_hypervolume
        for sampler in samplers:
            stats = [mean_se([runs[table.dataset, sampler, "none", s][n - 1].hypervolume / full
                              for s in seeds_of(runs, table.dataset, sampler)]) for n in trials]
            row[0].plot(trials, [m for m, _ in stats], label=sampler)
            row[0].fill_between(trials, [m - e for m, e in stats], [m + e for m, e in stats], alpha=0.15)
        row[0].set(title=f"{table.dataset}: samplers, no early stopping", xlabel="trials",
                   ylabel="hypervolume / table's full hypervolume")
        for scheduler in SCHEDULERS:
            series = [runs[table.dataset, "tpe", scheduler, s] for s in seeds]
            grid = range(0, max(steps[-1].epochs for steps in series) + 1, 5)
            values = [[max((st.hypervolume for st in steps if st.epochs <= e), default=0.0) / full for steps in series]
                      for e in grid]
            stats = [mean_se(v) for v in values]
            row[1].plot(list(grid), [m for m, _ in stats], label=f"tpe + {scheduler}")
            row[1].fill_between(list(grid), [m - e for m, e in stats], [m + e for m, e in stats], alpha=0.15)
        row[1].set(title=f"{table.dataset}: schedulers", xlabel="epochs spent",
                   ylabel="hypervolume / table's full hypervolume")
        for axis in row:
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
    figure.suptitle(f"replayed searches, mean ± standard error over {len(seeds)} seeds; "
                    "reference point (mAP 0, FPS 0)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", type=Path, default=Path(__file__).resolve().parent / "data" / "trial_table.json")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--qnehvi-seeds", type=int, default=5, help="BoTorch takes seconds per trial")
    parser.add_argument("--budget", type=int, default=max(CHECKPOINTS))
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--name", default="replay", help="benchmarks/results/<name>.md and .png")
    args = parser.parse_args(argv)
    tables = Table.load(args.table)
    samplers, left_out = available_samplers(args.samplers)
    seeds = list(range(args.seeds))
    jobs = [(t, sampler, "none", s, args.budget) for t in tables for sampler in samplers
            for s in (seeds[:args.qnehvi_seeds] if sampler == "qnehvi" else seeds)]
    jobs += [(t, sampler, scheduler, s, args.budget) for t in tables for sampler in ("random", "tpe")
             for scheduler in SCHEDULERS[1:] for s in seeds]
    done = []
    with ProcessPoolExecutor(args.processes) as pool:
        for finished in as_completed([pool.submit(_one, job) for job in jobs]):
            done.append(finished.result())
            if len(done) % max(1, len(jobs) // 20) == 0 or len(done) == len(jobs):
                print(f"replayed {len(done)} of {len(jobs)} searches", flush=True)
    runs: Runs = {(d, sampler, scheduler, s): steps for d, sampler, scheduler, s, steps, _ in done}
    seconds = {sampler: statistics.fmean(sec for _, smp, _, _, _, sec in done if smp == sampler)
               for sampler in samplers}
    meta = json.loads(args.table.read_text())
    qnehvi = f" ({args.qnehvi_seeds} for qnehvi)" if "qnehvi" in samplers else ""
    setup = (f"{len(tables)} datasets x {[len(t.trials) for t in tables]} real trials from {args.table.name} "
             f"({meta['when']}, {meta['machine']}; design {meta['design']}, fixed {meta['fixed']}); "
             f"{len(seeds)} seeds per search{qnehvi}, {args.budget} trials each, "
             f"one at a time; accuracy map, speed the "
             f"lane's fps; HV reference point (0, 0), given as a fraction of the HV of the whole table; "
             f"schedulers: grace {SCHEDULER_GRACE} epochs, reduction factor {SCHEDULER_ETA}")
    header = ("dataset", "sampler", "seeds", *(cell for n in CHECKPOINTS for cell in (f"HV @{n}", f"vs random @{n}")))
    text = write_report(args.name, "Replayed searches: samplers and schedulers against real trials", setup, header,
                  sampler_rows(tables, runs, samplers),
                  notes=([f"left out: {', '.join(left_out)}"] if left_out else []) +
                        ["seconds per search (sampling only): " +
                         ", ".join(f"{s} {sec:.1f}" for s, sec in seconds.items())])
    schedulers = scheduler_rows(tables, runs, ["random", "tpe"], seeds)
    text += "\n## Early stopping at equal hypervolume\n\n" + "\n".join(
        ["Epochs needed to reach the mean HV that the same sampler without early stopping has after 20 trials "
         "(reached: seeds that got there within the budget; epochs to reach: their mean; saved: against no "
         "early stopping, comparable when every seed reached it).", "",
         "| dataset | sampler | scheduler | HV @20 | epochs @20 | reached | epochs to reach | saved |",
         "|---|---|---|---|---|---|---|---|"] + ["| " + " | ".join(map(str, r)) + " |" for r in schedulers]) + "\n"
    (RESULTS / f"{args.name}.md").write_text(text)
    plot(tables, runs, samplers, seeds, args.budget, RESULTS / f"{args.name}.png")
    print(text)
    return text


if __name__ == "__main__":
    main()
