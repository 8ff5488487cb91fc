"""The engine: one compiled program that trains K >= 1 models together.

``core`` holds the engine and its training programs; ``state`` reads, writes, snapshots and
restarts its members' state; ``evaluate`` evaluates them; ``probes`` reads activations and
gradients off them; ``member``, ``batches``, ``steps`` and ``program`` are the pieces they share.
"""

from trainlab.training.engine.core import Engine
from trainlab.training.engine.member import Member
from trainlab.training.engine.steps import EpochSteps, steps_per_epoch

__all__ = ["Engine", "EpochSteps", "Member", "steps_per_epoch"]
