"""Which items of a case are the same picture: exact copies (same SHA-256) and near duplicates
(re-encoded, resized, cropped, watermarked, mirrored copies; a still taken from a video).

Exact: one file linked under both a claim and a denial role, or the same bytes stored in
another case. Near: two items of this case with at least one picture that
`verify.hashing.compare` judges the same.

Verdict: always inconclusive, and the detail says why. That two items are one picture is a
fact about the evidence, not about the claim: it neither supports nor contradicts it. What it
changes is how the evidence is counted (two copies corroborate nothing; the same picture on
both sides means both read one scene). Whether the picture is *recycled* is the
recycled_footage check's question, which reaches a mismatch when a copy predates the incident.
"""

from __future__ import annotations

from cases.checks.base import CheckContext, FindingDraft
from cases.checks.same_pictures import same_pictures, search_items
from cases.snapshot import ItemInfo
from verify.hashing import HashDistances
from verify.verdict import Verdict

_CLAIM_ROLE = "supports_claim"
_DENIAL_ROLE = "denial_footage"


class DuplicatesCheck:
    name = "duplicates"
    title = "Exact and near-duplicate pictures"

    def examines(self, item: ItemInfo) -> bool:
        return item.kind in ("photo", "video")

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        visual = [i for i in ctx.case.items if self.examines(i)]
        if not visual:
            return []
        drafts = self._exact(ctx, visual)
        drafts += self._near(ctx, visual)
        return drafts

    def _exact(self, ctx: CheckContext, visual: list[ItemInfo]) -> list[FindingDraft]:
        drafts = []
        for item in visual:
            if {_CLAIM_ROLE, _DENIAL_ROLE} <= set(item.roles):
                drafts.append(
                    FindingDraft(
                        self.name,
                        Verdict.INCONCLUSIVE,
                        (item.code,),
                        {"kind": "exact", "roles": list(item.roles), "copies": []},
                        f"{item.filename} is one file offered both for the claim and for the "
                        "denial: both sides read the same picture (inconclusive: a duplicate "
                        "neither supports nor contradicts the claim).",
                    )
                )
        same_bytes: dict[str, list[ItemInfo]] = {}
        mine = {i.sha256 for i in visual}
        for other in ctx.workspace_items():
            if other.sha256 in mine and other.case != ctx.case.code:
                same_bytes.setdefault(other.sha256, []).append(other)
        for item in visual:
            copies = same_bytes.get(item.sha256, [])
            if not copies:
                continue
            names = ", ".join(f"{c.code} ({c.case}, {c.filename})" for c in copies)
            drafts.append(
                FindingDraft(
                    self.name,
                    Verdict.INCONCLUSIVE,
                    (item.code, *(c.code for c in copies)),
                    {
                        "kind": "exact",
                        "roles": list(item.roles),
                        "copies": [
                            {"item": c.code, "case": c.case, "sha256": c.sha256} for c in copies
                        ],
                    },
                    f"{item.filename} has the same bytes (SHA-256) as {names} in other case(s) "
                    "(inconclusive: a duplicate neither supports nor contradicts the claim; see "
                    "recycled_footage for whether a copy predates the incident).",
                )
            )
        return drafts

    def _near(self, ctx: CheckContext, visual: list[ItemInfo]) -> list[FindingDraft]:
        best: dict[tuple[str, str], HashDistances] = {}
        items = {i.code: i for i in visual}
        # All of them at once: the search's alignments run on several processes.
        search_items(ctx, visual, ctx.progress.task("duplicates", len(visual)).advance)
        for item in visual:
            # The search covers the workspace (shared with recycled_footage); the near
            # duplicates this check reports are the ones among this case's pictures.
            for found in same_pictures(ctx, item):
                other = found.match.frame.item.code
                if other == item.code or other not in items:
                    continue
                pair = (min(item.code, other), max(item.code, other))
                d = found.match.match.distances
                if pair not in best or (d.pdq, d.phash) < (best[pair].pdq, best[pair].phash):
                    best[pair] = d
        drafts = []
        for (a, b), d in sorted(best.items()):
            first, second = items[a], items[b]
            sides = _sides(first) | _sides(second)
            both_sides = (
                " One is offered for the claim, the other for the denial."
                if len(sides) == 2
                else ""
            )
            drafts.append(
                FindingDraft(
                    self.name,
                    Verdict.INCONCLUSIVE,
                    (a, b),
                    {
                        "kind": "exact" if first.sha256 == second.sha256 else "near",
                        "distance": d.as_dict(),
                        "roles": {a: list(first.roles), b: list(second.roles)},
                    },
                    f"{first.filename} and {second.filename} are the same picture (PDQ {d.pdq}, "
                    f"pHash {d.phash}, dHash {d.dhash}): count them as one piece of evidence, "
                    f"not two.{both_sides} Inconclusive: a duplicate neither supports nor "
                    "contradicts the claim.",
                )
            )
        return drafts


def _sides(item: ItemInfo) -> set[str]:
    return {r for r in item.roles if r in (_CLAIM_ROLE, _DENIAL_ROLE)}
