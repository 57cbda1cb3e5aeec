"""One pair verifier per verify run, shared by the reference comparisons and the footage links.

Both verify pairs of the same pictures (footage frames, reference images) with `match_pair`.
Giving each its own `verify.pairpool.PairMatcher` started the worker processes twice and sent
every picture's features to them twice (~0.8 GB per worker for 1,000 frames of RootSIFT); one
matcher over all the run's pictures starts them once, on the first batch large enough to need
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from cases.checks.footage_frames import FrameFeatures
from verify.errors import InvalidValueError
from verify.features import Features
from verify.geometry import PairMatch
from verify.pairpool import PairMatcher


class PicturePairs:
    """`match_pair(a.features, b.features)` for pairs of a fixed set of pictures, on worker
    processes when a batch is large (see `PairMatcher`)."""

    def __init__(self, pictures: Iterable[FrameFeatures]) -> None:
        self._slot: dict[tuple[str, int], int] = {}
        features: list[Features] = []
        for picture in pictures:
            if picture.key not in self._slot:
                self._slot[picture.key] = len(features)
                features.append(picture.features)
        self._matcher = PairMatcher(features)

    def __enter__(self) -> PicturePairs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        self._matcher.close()

    @property
    def used_workers(self) -> bool:
        return self._matcher.used_workers

    def match(
        self,
        pairs: Sequence[tuple[FrameFeatures, FrameFeatures]],
        *,
        min_inliers: int = 0,
        done: Callable[[int], None] | None = None,
        each: Callable[[int, PairMatch], None] | None = None,
    ) -> list[PairMatch]:
        """The match of each (a, b) in order; `each(k, match)` as soon as pair k is verified."""
        try:
            slots = [(self._slot[a.key], self._slot[b.key]) for a, b in pairs]
        except KeyError as exc:
            raise InvalidValueError(f"picture {exc} is not one this verifier was given") from None
        return self._matcher.match(slots, min_inliers=min_inliers, done=done, each=each)
