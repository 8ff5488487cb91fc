"""trainlab.lazy: package faces that import each name on first use, and every face that uses it."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from trainlab.lazy import lazy_names

# The faces that keep start-up cheap (the optimizers' and schedules' faces load Keras for their own names).
FACES = ["trainlab", "trainlab.inference", "trainlab.training", "trainlab.report", "trainlab.monitor"]


@pytest.fixture
def face(monkeypatch):
    """A face ``face_pkg`` whose name ``dumps`` lives in ``json`` and ``later`` in a module not yet imported."""
    module = types.ModuleType("face_pkg")
    monkeypatch.setitem(sys.modules, "face_pkg", module)
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    module.own = 1
    module.__getattr__, module.__dir__ = lazy_names("face_pkg", {"dumps": "json", "rgb_to_hsv": "colorsys"})
    return module


def test_a_name_is_imported_when_asked_for_and_not_before(face):
    assert "colorsys" not in sys.modules
    assert face.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert "colorsys" in sys.modules and face.dumps is json.dumps
    assert "rgb_to_hsv" not in vars(face)  # not cached: each lookup asks its home module


def test_an_unknown_name_is_pythons_attribute_error(face):
    with pytest.raises(AttributeError, match=r"^module 'face_pkg' has no attribute 'dump'$"):
        face.dump  # noqa: B018
    with pytest.raises(ImportError):
        exec("from face_pkg import dump", {})


def test_dir_lists_the_lazy_names_with_the_modules_own(face):
    assert {"dumps", "rgb_to_hsv", "own"} <= set(dir(face)) and dir(face) == sorted(dir(face))


def test_submodules_are_imported_by_name():
    import trainlab

    assert trainlab.rundir is sys.modules["trainlab.rundir"] and "rundir" in dir(trainlab)


def test_every_face_imports_nothing_of_its_lazy_names_until_asked():
    # A fresh interpreter: importing every face brings in none of the modules its lazy names live in
    # (but the faces themselves, and errors, which faces import anyway).
    code = (
        "import importlib, json, sys\n"
        f"faces = [importlib.import_module(name) for name in {FACES!r}]\n"
        "homes = {home for face in faces for home in face._LAZY.values()}\n"
        "print(json.dumps({'homes': sorted(homes), 'loaded': sorted(h for h in homes if h in sys.modules),"
        " 'heavy': [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]}))\n"
    )
    found = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                       .stdout.splitlines()[-1])
    assert {"trainlab.inference.predictor", "trainlab.training.fit", "trainlab.report._html"} <= set(found["homes"])
    assert set(found["loaded"]) <= {*FACES, "trainlab.errors"}, found["loaded"]
    assert not found["heavy"], found["heavy"]
