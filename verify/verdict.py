"""The three verdicts every check speaks in."""

from enum import StrEnum


class Verdict(StrEnum):
    """What a check concluded about the evidence it examined.

    `INCONCLUSIVE` is the honest answer whenever the measurements cannot decide; a check never
    guesses between the other two.
    """

    CONSISTENT = "consistent"
    MISMATCH = "mismatch"
    INCONCLUSIVE = "inconclusive"
