"""``trainlab tour`` against the tutorial's own code, each run as a fresh process, side by side.

- the tour: ``trainlab tour --out DIR`` (the console script's code, with this interpreter); its
  per-section times are the ones it writes into ``DIR/tour.json``;
- the baseline: ``benchmarks/baselines/tutorial.py``, the tutorial's sections 1-10 as its own code
  trains them (eager loops, compiled steps, ``model.fit`` calls, every figure drawn), with the
  minimal fixes needed on TensorFlow 2.21 / Keras 3 (printed below); it imports no trainlab and
  runs with TensorFlow's default threads; it prints its per-section times.

Both get this environment minus any thread setting (``TF_NUM_*_THREADS``, ``OMP_NUM_THREADS``, ...).
Whole-process time: from starting the process to its exit (interpreter start and imports included).
Rounds alternate tour / baseline; with ``--rounds N`` each figure is the median over the rounds.
Prints the machine (CPU, cores, oneDNN state, load), the date, per-section and whole-process times
and their ratios. Run from the repository root: ``python benchmarks/tour_speed.py [--quick]
[--rounds N] [--sections 1 4 ...] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import clean_env, load, machine_lines  # benchmarks/machine.py, beside this file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = HERE / "baselines" / "tutorial.py"
TITLES = {1: "losses", 2: "optimizers", 3: "schedules", 4: "basic loop", 5: "advanced trainer",
          6: "dropout, batch norm", 7: "L1, L2", 8: "callbacks", 9: "custom callback", 10: "monitor"}


# ------------------------------------------------------------------------------------------ the runs
def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, str]:
    """Run ``command`` to its exit, stdout and stderr into ``log``; its wall time and its stdout."""
    with open(log, "w") as sink:
        start = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=sink, text=True)
        seconds = time.perf_counter() - start
        sink.write(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"{command[1]} exited with {done.returncode}; see {log}")
    return seconds, done.stdout


def run_tour(work: Path, quick: bool, sections: list[int], env: dict[str, str]) -> dict:
    out = work / "tour"
    command = [sys.executable, "-c", "import sys; from trainlab.cli import main; sys.exit(main())",
               "tour", "--out", str(out), "--only", *map(str, sections), *(["--quick"] if quick else [])]
    wall, _ = timed(command, env, work / "tour.log")
    facts = json.loads((out / "tour.json").read_text())
    failed = [s["number"] for s in facts["sections"] if s["error"]]
    if failed:
        raise SystemExit(f"the tour failed in section(s) {failed}; see {out}")
    return {"wall": wall, "sections": {s["number"]: s["seconds"] for s in facts["sections"]},
            "models": {s["number"]: s["runs"] for s in facts["sections"]}, "inside": facts["seconds"],
            "startup": facts["startup_seconds"], "workers": facts["workers"], "versions": facts["versions"]}


def run_baseline(work: Path, quick: bool, sections: list[int], env: dict[str, str]) -> dict:
    command = [sys.executable, str(BASELINE), "--out", str(work / "tutorial"), "--sections", *map(str, sections),
               *(["--quick"] if quick else [])]
    wall, stdout = timed(command, env, work / "tutorial.log")
    line = next(line for line in reversed(stdout.splitlines()) if line.startswith("TIMES "))
    facts = json.loads(line[len("TIMES "):])
    facts["sections"] = {int(n): s for n, s in facts["sections"].items()}
    facts["models"] = {int(n): m for n, m in facts["models"].items()}
    facts["fixes"] = {int(n): f for n, f in facts["fixes"].items()}
    return {**facts, "wall": wall}


# ------------------------------------------------------------------------------------------ the printout
def median(rounds: list[dict], *keys) -> float:
    values = []
    for r in rounds:
        value = r
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            values.append(value)
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "-"


def report(tours: list[dict], bases: list[dict], sections: list[int]) -> None:
    n = max(len(tours), len(bases))
    how = f"median of {n} rounds" if n > 1 else "one round"
    print(f"\nper section ({how}; the tour's times from its tour.json, the baseline's from its own clock):")
    print(f"{'section':<24}{'tour s':>9}{'tutorial s':>12}{'tutorial/tour':>15}{'models tour | tutorial':>25}")
    for number in sections:
        t, b = median(tours, "sections", number), median(bases, "sections", number)
        models = f"{median(tours, 'models', number):.0f} | {median(bases, 'models', number):.0f}" \
            if tours and bases else ""
        print(f"{number:>2}. {TITLES[number]:<20}{t:>9.1f}{b:>12.1f}{ratio(b, t) if tours and bases else '':>15}"
              f"{models:>25}")
    if tours:
        workers = tours[0]["workers"]
        where = (f"{median(tours, 'startup'):.1f} s of it starting TensorFlow in its {workers} worker processes"
                 if workers else "all in one process")
        print(f"\nthe tour, whole process: {median(tours, 'wall'):.1f} s (it counts {median(tours, 'inside'):.1f} s "
              f"itself, {where}); models trained: {sum(tours[0]['models'].values())}, every record, figure and "
              f"report written ({', '.join(f'{k} {v}' for k, v in tours[0]['versions'].items())})")
    if bases:
        print(f"the tutorial's code, whole process: {median(bases, 'wall'):.1f} s ({median(bases, 'imports'):.1f} s "
              f"of it importing); models trained: {sum(bases[0]['models'].values())}, its figures drawn; TensorFlow "
              f"{bases[0]['versions']['tensorflow']}, Keras {bases[0]['versions']['keras']}, threads intra "
              f"{bases[0]['threads']['intra_op']} inter {bases[0]['threads']['inter_op']} (0: TensorFlow's default)")
        for number, fix in sorted(bases[0]["fixes"].items()):
            print(f"  fix in section {number}: {fix}")
    if tours and bases:
        whole_t, whole_b = median(tours, "wall"), median(bases, "wall")
        print(f"ratio, whole process (tutorial / tour): {ratio(whole_b, whole_t)}")
        if 8 in sections and len(sections) > 1:  # the tutorial never ran section 8; the tour does
            no8 = statistics.median(b["wall"] - b["sections"][8] for b in bases)
            print(f"  without section 8 in the tutorial's time (it never ran that demo): {no8:.1f} s, "
                  f"{ratio(no8, whole_t)}")
        models_t, models_b = sum(tours[0]["models"].values()), sum(bases[0]["models"].values())
        if models_t and models_b:
            print(f"ratio per model trained: {ratio(whole_b / models_b, whole_t / models_t)}")
    print(f"load average at the end: {load():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick tour, and the tutorial's code at its epochs")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each tour then baseline (median printed)")
    parser.add_argument("--sections", nargs="+", type=int, choices=sorted(TITLES), default=sorted(TITLES),
                        help="sections to run on both sides (default 1-10; the tour's 11 takes no time)")
    parser.add_argument("--skip-tour", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="keep every run's folders and logs here (default: deleted)")
    args = parser.parse_args()
    sections = sorted(set(args.sections))
    env, removed = clean_env()
    for line in machine_lines(env, removed):
        print(line)
    what = "quick (--quick)" if args.quick else "full"
    print(f"workload: {what}, sections {' '.join(map(str, sections))}, {args.rounds} round(s)", flush=True)
    tours: list[dict] = []
    bases: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        for i in range(args.rounds):
            work = base / f"round-{i + 1}"
            work.mkdir(parents=True, exist_ok=False)
            if not args.skip_tour:
                tours.append(run_tour(work, args.quick, sections, env))
                print(f"round {i + 1}: the tour {tours[-1]['wall']:.1f} s", flush=True)
            if not args.skip_baseline:
                bases.append(run_baseline(work, args.quick, sections, env))
                print(f"round {i + 1}: the tutorial's code {bases[-1]['wall']:.1f} s", flush=True)
        report(tours, bases, sections)


if __name__ == "__main__":
    main()
