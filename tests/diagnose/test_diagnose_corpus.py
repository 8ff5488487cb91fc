"""The rules on a corpus of real runs: healthy runs get no warning, each pathological run the right finding."""

from __future__ import annotations

from trainlab.diagnose import diagnose


def _serious(findings):
    return [f.rule for f in findings if f.severity != "info"]


def test_corpus_rates(corpus):
    healthy = [run for run in corpus.values() if not run.expected]
    sick = [run for run in corpus.values() if run.expected]
    alarms = {run.name: _serious(diagnose(run.run_dir)) for run in healthy}
    missed = {run.name: [f.rule for f in diagnose(run.run_dir)] for run in sick}
    missed = {name: rules for name, rules in missed.items() if not set(corpus[name].expected) & set(rules)}
    false_alarms = {name: rules for name, rules in alarms.items() if rules}
    print(f"\ndiagnosis corpus: false alarms {len(false_alarms)}/{len(healthy)} healthy runs,"
          f" detections {len(sick) - len(missed)}/{len(sick)} pathological runs")
    assert len(healthy) >= 20 and len(sick) >= 8
    assert false_alarms == {}
    assert missed == {}


def test_corpus_spans_data_sources_and_optimizers(corpus):
    import yaml

    recipes = [yaml.safe_load((run.run_dir / "recipe.yaml").read_text()) for run in corpus.values()
               if not run.expected]
    assert {r["data"]["source"] for r in recipes} >= {"synthetic_classification", "synthetic_regression",
                                                      "breast_cancer", "digits", "iris"}
    assert len({r["optimizer"]["name"] for r in recipes}) >= 5
    assert len({tuple(r["model"]["hidden"]) for r in recipes}) >= 5


def test_a_run_at_a_rate_far_too_small_is_named(corpus):
    # SGD at 1e-5 for 30 epochs on 1000 samples: the loss barely moves and nothing else fires.
    findings = diagnose(corpus["crawl"].run_dir)
    assert [f.rule for f in findings] == ["lr_too_low"]
    finding = findings[0]
    assert finding.severity == "warning"
    assert finding.evidence["lr"] < 1.01e-5 and finding.evidence["update_ratio"] < 1e-4
    assert finding.evidence["final_loss"] >= 0.95 * finding.evidence["first_loss"]
    assert "learned almost nothing" in finding.message and "1e-05" in finding.message
    assert "trainlab lr-find" in finding.advice


def test_dead_units_are_not_blamed_on_the_rate(corpus):
    # The dead-ReLU run's hidden layers move nothing (no gradient), but its output layer does.
    assert "lr_too_low" not in [f.rule for f in diagnose(corpus["dead"].run_dir)]
