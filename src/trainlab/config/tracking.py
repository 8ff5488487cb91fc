"""The ``tracking`` section of a recipe or study: where to log runs (MLflow, optional).

Only checked here (the URI's form, that MLflow is installed); :mod:`trainlab.tracking` logs.
"""

from __future__ import annotations

import importlib.util
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainlab.errors import TrainlabError

# Database URLs MLflow's SQL store takes (SQLAlchemy dialects, with or without a +driver).
DATABASES = ("postgresql", "mysql", "mssql")
URI_RULE = ("must be sqlite:///PATH, http(s)://HOST[:PORT], file:PATH or a database URL "
            f"({', '.join(d + '://...' for d in DATABASES)})")


class MlflowConfig(BaseModel):
    """Log each run (a study: a parent run and a child per run) to an MLflow tracking store."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    uri: str = Field("sqlite:///mlflow.db", description="the tracking URI (sqlite paths are relative to the "
                     "current directory, as in MLflow)")
    experiment: str | None = Field(None, description="the MLflow experiment (default: the run's or study's name)")
    artifact_location: str | None = Field(
        None, description="where a new experiment keeps its artifacts (default: mlartifacts/ next to a sqlite "
        "database; the server's own for http(s))"
    )

    @field_validator("uri")
    @classmethod
    def _uri(cls, uri: str) -> str:
        check_uri(uri)
        return uri

    @field_validator("experiment")
    @classmethod
    def _experiment(cls, name: str | None) -> str | None:
        if name is not None and not name.strip():
            raise ValueError("must not be empty")
        return name

    @model_validator(mode="after")
    def _usable(self) -> MlflowConfig:
        if importlib.util.find_spec("mlflow") is None:
            raise TrainlabError("tracking.mlflow", "needs MLflow: pip install 'trainlab[mlflow]'")
        if self.artifact_location is None and scheme(self.uri) in DATABASES:
            # MLflow's default would be ./mlruns in whatever the current directory is.
            raise TrainlabError("tracking.mlflow.artifact_location", "is required with a database server "
                                "(a folder or URI for the artifacts of new experiments)")
        return self


class TrackingConfig(BaseModel):
    """Experiment trackers to log to (null: none)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    mlflow: MlflowConfig | None = Field(None, description="log to MLflow (null: off)")


def scheme(uri: str) -> str:
    """The URI's scheme without a SQLAlchemy driver: ``postgresql+psycopg2://...`` -> ``postgresql``."""
    return uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""


def check_uri(uri: str) -> None:
    """Check a tracking URI's form (nothing is contacted).

    Raises:
        ValueError: it is none of the forms MLflow takes here (an in-memory sqlite database
            is refused: it would vanish with the process).
    """
    kind = scheme(uri)
    parsed = urlparse(uri)
    if kind == "sqlite":
        ok = uri.startswith("sqlite:///") and bool(uri.removeprefix("sqlite:///").split("?")[0])
    elif kind in ("http", "https") or kind in DATABASES:
        ok = bool(parsed.netloc)
    elif kind == "file":
        ok = bool(parsed.path)
    else:
        ok = False
    if not ok:
        raise ValueError(f"{URI_RULE}, got {uri!r}")
