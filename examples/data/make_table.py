"""Write table.csv, the example table of examples/table.yaml (run it again to get the same file).

300 customers: age, income and monthly visits (numbers, some cells empty or NA), region and plan
(text categories), and the segment they fall in (churn, stay or upgrade), which depends on all five
through a noisy linear rule, so a small model can learn it (about 80% accuracy, not 100%).

Usage: python examples/data/make_table.py
"""

import csv
from pathlib import Path

import numpy as np

N = 300
SEED = 20


def rows(n: int = N, seed: int = SEED) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 75, n)
    income = rng.lognormal(np.log(45_000), 0.45, n)
    visits = rng.poisson(5, n)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.3, 0.3, 0.25, 0.15])
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.45, 0.35, 0.2])
    logits = np.stack([
        1.6 * (plan == "basic") - 0.05 * (age - 45) - 0.35 * (visits - 5) + 0.9 * (region == "south"),
        np.full(n, 1.2),
        1.5 * (plan == "pro") + 1.8 * np.log(income / 45_000) + 0.3 * (visits - 5),
    ], axis=1)
    segment = np.array(["churn", "stay", "upgrade"])[np.argmax(logits + rng.gumbel(0, 0.35, (n, 3)), axis=1)]
    out = [["age", "income", "visits", "region", "plan", "segment"]]
    for i in range(n):
        out.append([
            "" if rng.random() < 0.06 else f"{age[i]:.0f}",
            "NA" if rng.random() < 0.05 else f"{income[i]:.0f}",
            str(visits[i]),
            "" if rng.random() < 0.03 else str(region[i]),
            str(plan[i]),
            str(segment[i]),
        ])
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("table.csv")
    with open(path, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows())
    print(f"wrote {path}")
