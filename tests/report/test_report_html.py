"""render_report() and write_report(): report.html from a run's records, read back as text."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import sys

import pytest

from trainlab.errors import TrainlabError
from trainlab.rundir import load
from trainlab.report import render_report, write_report

# Stand-ins for rendered figures: the page only embeds the bytes (rendering is tested in tests/monitor).
FAKE = {name: f"png of {name}".encode() for name in ("monitor.png", "curves.png", "layers.png", "weights.png")}

FINDINGS = [
    {"rule": "lr_too_low", "severity": "info", "message": "Slow and steady.", "evidence": {"slope": 0.00123456},
     "advice": "Raise the learning rate."},
    {"rule": "overfitting", "severity": "warning", "message": "val_loss rose 25% above its minimum.",
     "evidence": {"min_epoch": 10, "epochs": list(range(10, 31))}, "advice": "Stop earlier."},
    {"rule": "nonfinite", "severity": "error", "message": "The loss became NaN at step 57.",
     "evidence": {"step": 57}, "advice": ""},
]


def page_of(path, figures=FAKE):
    return render_report(load(path), figures)


def section(page, anchor):
    """The HTML of ``<section id=anchor>``."""
    return re.search(rf'<section id="{anchor}">(.*?)</section>', page, flags=re.DOTALL).group(1)


def text(fragment):
    """Visible text: tags dropped, entities decoded, whitespace squeezed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_the_page_is_self_contained(run_dir):
    page = page_of(run_dir(weights=True))
    assert page.startswith("<!DOCTYPE html>")
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    assert references and all(r.startswith(("data:image/png;base64,", "#")) for r in references)
    assert not re.search(r"https?:|<script|@import|url\(|<link", page, flags=re.IGNORECASE)
    assert "default-src 'none'; img-src data:" in page  # the browser itself refuses anything else


def test_header_names_the_run_its_status_and_best_epoch(run_dir):
    page = page_of(run_dir(epochs=8, best_epoch=5, stopped_early=True))
    header = page[page.index("<header>"):page.index("</header>")]
    assert '<h1>synthetic <span class="status ok">completed</span></h1>' in header
    assert "8 epochs · best epoch 5 (val_loss 0.2500) · stopped early" in text(header)
    assert "<title>synthetic: completed (trainlab report)</title>" in page


def test_every_text_from_the_records_is_escaped(run_dir):
    evil = "<script>alert('x')</script> & <b>"
    path = run_dir(extra_summary={
        "name": evil, "status": "failed", "error": f"ValueError: {evil}",
        "diagnosis": [{"rule": evil, "severity": "warning", "message": evil, "evidence": {evil: evil}, "advice": evil}],
        "data": {"source": evil, "splits": {evil: {"n": 1, "class_counts": {evil: 1}}}},
    })
    (path / "recipe.yaml").write_text(f"name: {evil}\n")
    page = page_of(path)
    assert "<script" not in page and "<b>" not in page
    assert page.count(html.escape(evil)) >= 9
    assert '<span class="status bad">failed</span>' in page
    assert f"error: ValueError: {evil}" in text(page)


def test_findings_show_their_severity_most_serious_first(run_dir):
    diagnosis = section(page_of(run_dir(extra_summary={"diagnosis": FINDINGS})), "diagnosis")
    classes = re.findall(r'<div class="finding (\w+)">', diagnosis)
    assert classes == ["error", "warning", "info"]
    assert re.findall(r'<span class="severity">(\w+)</span>', diagnosis) == ["ERROR", "WARNING", "INFO"]
    words = text(diagnosis)
    assert "ERROR nonfinite The loss became NaN at step 57." in words
    assert "Advice: Stop earlier." in words and "Advice: Raise the learning rate." in words
    assert "slope 0.001235" in words  # evidence: 4 significant digits
    assert "epochs [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, …]" in words  # a long list cut short
    assert words.count("Advice:") == 2  # an empty advice is left out


def test_a_run_without_findings_is_healthy(run_dir):
    assert "Healthy: the diagnosis found no problems" in text(section(
        page_of(run_dir(extra_summary={"diagnosis": []})), "diagnosis"))
    assert "No diagnosis in summary.json" in text(section(page_of(run_dir()), "diagnosis"))


def metric_rows(page):
    """``{metric: [cells]}`` of the metrics table."""
    rows = re.findall(r"<tr[^>]*><th>([^<]+)</th>((?:<td>[^<]*</td>)+)</tr>", section(page, "metrics"))
    return {html.unescape(k): re.findall(r"<td>([^<]*)</td>", cells) for k, cells in rows}


def test_metrics_table_has_best_final_and_test_values_in_order(run_dir):
    final = {"loss": 0.125, "accuracy": 0.9, "val_loss": 0.3, "val_accuracy": 0.85, "train_eval_loss": 0.1,
             "train_eval_accuracy": 0.95, "lr": 0.001, "grad_norm": 0.5, "grad_norm_max": 0.9, "epoch_time_s": 0.01}
    best = dict(final, val_loss=0.25, lr=0.01)
    page = page_of(run_dir(extra_summary={"final": final, "best": best, "test": {"loss": 0.31, "accuracy": 0.875}}))
    rows = metric_rows(page)
    assert list(rows) == ["loss", "train_eval_loss", "val_loss", "accuracy", "train_eval_accuracy", "val_accuracy",
                          "lr", "grad_norm", "grad_norm_max"]
    assert rows["loss"] == ["0.1250", "0.1250", "0.3100"]
    assert rows["val_loss"] == ["0.2500", "0.3000", ""]
    assert rows["accuracy"][2] == "0.8750"
    assert rows["lr"] == ["1.000e-02", "1.000e-03", ""]
    assert re.search(r'<tr class="monitor"><th>val_loss</th>', page)
    assert "best (epoch 5)" in section(page, "metrics") and "final (epoch 8)" in section(page, "metrics")


def test_without_final_and_best_in_the_summary_the_history_gives_them(run_dir):
    rows = metric_rows(page_of(run_dir(epochs=4, best_epoch=2)))
    assert rows["loss"] == ["0.5000", "0.2500"]  # loss is 1/epoch
    assert rows["val_accuracy"] == [f"{1 - 1 / 3 - 0.05:.4f}", f"{1 - 1 / 5 - 0.05:.4f}"]


def test_figures_are_inline_in_order_and_missing_records_skip_theirs(run_dir):
    page = page_of(run_dir(weights=True))
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(s) for s in sources] == [FAKE[n] for n in
                                                     ("curves.png", "monitor.png", "layers.png", "weights.png")]
    path = run_dir()
    (path / "layers.csv").unlink()
    figures = section(page_of(path, {k: v for k, v in FAKE.items() if k != "weights.png"}), "figures")
    assert re.findall(r'<figure id="fig-(\w+)">', figures) == ["curves", "monitor"]


def test_data_section_lists_the_data_and_its_splits(run_dir):
    data = {"source": "breast_cancer", "task": "binary", "n_features": 30, "class_names": ["malignant", "benign"],
            "splits": {"train": {"n": 341, "class_counts": {"malignant": 127, "benign": 214}},
                       "val": {"n": 114, "class_counts": {"malignant": 42, "benign": 72}}}}
    words = text(section(page_of(run_dir(extra_summary={"data": data})), "data"))
    assert "source breast_cancer task binary n_features 30 class_names [malignant, benign]" in words
    assert "train 341 malignant: 127, benign: 214 val 114 malignant: 42, benign: 72" in words
    assert "No data summary" in text(section(page_of(run_dir()), "data"))


def test_timings_compare_the_first_epoch_with_the_rest(run_dir):
    words = text(section(page_of(run_dir(epochs=5, extra_summary={"wall_time_s": 2.0})), "timings"))
    # history: the first epoch 0.5 s, the others 0.01 s each.
    assert "epochs 5 wall time 2.00 s" in words
    assert f"epoch time, mean {(0.5 + 4 * 0.01) / 5 * 1000:.3g} ms" in words
    assert "epoch time, median 10 ms" in words
    assert "first epoch (includes building the graph) 500 ms" in words
    assert "the other epochs, mean / median 10 ms / 10 ms" in words
    assert "first epoch / median of the others 50.0x" in words
    assert "wall time outside the epochs 1.46 s" in words


def test_the_recipe_is_shown_as_code(run_dir):
    path = run_dir()
    (path / "recipe.yaml").write_text("# a note\nname: synthetic\noptimizer: {name: adam}\n")
    recipe = section(page_of(path), "recipe")
    assert "<pre><code># a note\nname: synthetic\noptimizer: {name: adam}\n</code></pre>" in recipe
    assert "No recipe.yaml" in text(section(page_of(run_dir(recipe=False)), "recipe"))


def test_a_one_epoch_run_that_died_before_its_summary(run_dir):
    path = run_dir(epochs=1, best_epoch=None, summary=False, recipe=False, validation_every=None)
    (path / "steps.csv").unlink()
    page = page_of(path, {})
    assert f"<h1>{path.name} " in page and '<span class="status info">unknown</span>' in page
    assert metric_rows(page)["loss"] == ["", "1.0000"]
    assert "first epoch (includes building the graph) 500 ms" in text(section(page, "timings"))
    assert "No figures." in section(page, "figures")


def test_write_report_writes_the_page_and_figures_without_tensorflow(run_dir):
    path = run_dir(epochs=3, weights=True, layer_extras=True, train_eval=True,
                   extra_summary={"status": "interrupted", "diagnosis": FINDINGS[:1]})
    code = ("import sys, json; from trainlab.report import write_report; "
            "p = write_report(sys.argv[1], save_figures=True); "
            "print(json.dumps([str(p), 'tensorflow' in sys.modules, 'keras' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [str(path / "report.html"), False, False]
    page = (path / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    for name, source in zip(("curves.png", "monitor.png", "layers.png", "weights.png"), sources, strict=True):
        assert base64.b64decode(source) == (path / name).read_bytes()
        assert (path / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert '<span class="status warn">interrupted</span>' in page
    assert not list(path.glob("*.tmp"))


def test_write_report_without_save_figures_writes_only_the_page(run_dir):
    path = run_dir(epochs=2)
    assert write_report(path) == path / "report.html"
    assert sorted(p.name for p in path.glob("*.png")) == []
    assert len(re.findall(r"<img ", (path / "report.html").read_text())) == 3  # curves, monitor, layers


def test_write_report_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(TrainlabError, match=r"nowhere: is not a run directory"):
        write_report(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()
