"""Footage pictures against site reference images: cached matches and what was compared.

Every (footage picture, reference image) pair verified is cached in the derived store under the
picture's (sha256, frame), the reference's, and the feature settings, with its inlier points (the
report draws a site's best reference from them). A manifest per case records which references
each footage picture was compared with and which references existed, so a re-run keeps each known
picture's comparisons exactly as they were: adding one item compares that item (and compares a
new reference only with the pictures that rank it among their most similar). All of it is
rebuildable: deleting the derived store only costs time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from cases.checks.base import CheckContext
from cases.checks.footage_frames import PAIR_KEY, FrameFeatures
from cases.checks.match_codec import decode_match, encode_match
from cases.checks.picture_pairs import PicturePairs
from verify.geometry import PairMatch

MATCH_NAMESPACE = "site_matches"
MANIFEST_NAMESPACE = "site_match_manifest"


def _manifest() -> str:
    return f"{PAIR_KEY}-compared.json"


def picture_key(frame: FrameFeatures) -> str:
    """A picture's identity across runs, cases and item codes: its blob and frame index."""
    return f"{frame.item.sha256}:{frame.index}"


@dataclass
class Compared:
    """Which references each footage picture was compared with, and every reference known."""

    pictures: dict[str, set[str]] = field(default_factory=dict)
    references: set[str] = field(default_factory=set)

    def references_for(
        self, frame: FrameFeatures, available: list[FrameFeatures], chosen: set[str] | None
    ) -> list[FrameFeatures]:
        """The references `frame` is compared with in this run.

        A picture the previous run compared keeps exactly those references (those still in the
        case) plus new references this run would choose for it; a new picture gets this run's
        choice (`chosen` node names, or every reference when None).
        """
        wanted = [r for r in available if chosen is None or r.node in chosen]
        before = self.pictures.get(picture_key(frame))
        if before is None:
            return wanted
        new = [r for r in wanted if picture_key(r) not in self.references]
        return [r for r in available if picture_key(r) in before] + new


def load_compared(ctx: CheckContext) -> Compared:
    """The previous run's manifest; empty when there is none or it is unreadable."""
    raw = ctx.ws.derived.read(MANIFEST_NAMESPACE, ctx.case.code, _manifest())
    if raw is None:
        return Compared()
    try:
        data = json.loads(raw)
        return Compared(
            {str(k): {str(r) for r in v} for k, v in data["pictures"].items()},
            {str(r) for r in data["references"]},
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return Compared()


def save_compared(ctx: CheckContext, compared: Compared) -> None:
    data = {
        "pictures": {k: sorted(v) for k, v in sorted(compared.pictures.items())},
        "references": sorted(compared.references),
    }
    ctx.ws.derived.write(MANIFEST_NAMESPACE, ctx.case.code, _manifest(), json.dumps(data).encode())


def reference_matches(
    ctx: CheckContext,
    pairs: Sequence[tuple[FrameFeatures, FrameFeatures]],
    verifier: PicturePairs | None = None,
) -> list[PairMatch]:
    """`match_pair(frame, reference)` for each pair: from the cache, or verified now and cached
    as each is verified (an interrupted run keeps those). `verifier` is the run's shared one;
    without it one is made for these pairs."""
    out: list[PairMatch | None] = []
    todo: list[int] = []
    for k, (frame, reference) in enumerate(pairs):
        cached = ctx.ws.derived.read(MATCH_NAMESPACE, *_location(frame, reference))
        out.append(decode_match(cached) if cached is not None else None)
        if out[-1] is None:
            todo.append(k)
    if todo:
        task = ctx.progress.task("footage against references", len(todo))

        def keep(t: int, match: PairMatch) -> None:
            k = todo[t]
            ctx.ws.derived.write(MATCH_NAMESPACE, *_location(*pairs[k]), encode_match(match))
            out[k] = match

        batch = [pairs[k] for k in todo]
        if verifier is None:
            with PicturePairs(p for pair in batch for p in pair) as own:
                own.match(batch, done=task.advance, each=keep)
        else:
            verifier.match(batch, done=task.advance, each=keep)
    return [m for m in out if m is not None]


def _location(frame: FrameFeatures, reference: FrameFeatures) -> tuple[str, str]:
    return (
        frame.item.sha256,
        f"{PAIR_KEY}-{frame.index:08d}-{reference.item.sha256}-{reference.index:08d}.npz",
    )
