"""Which place does the footage show? Local-feature matching against each site's imagery.

Features are cached in the derived store per (blob, frame, settings), so re-running verify or
adding one item does not recompute the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cases.checks.base import CheckContext, FindingDraft
from cases.snapshot import ItemInfo
from verify.errors import VerifyError
from verify.features import (
    DEFAULT_MAX_FEATURES,
    DEFAULT_MAX_SIDE,
    DEFAULT_METHOD,
    Features,
    extract_features,
    settings_key,
)
from verify.keyframes import extract_keyframes
from verify.matchviz import draw_matches, encode_jpeg
from verify.media import load_image
from verify.sitematch import (
    FrameDecision,
    compare_with_sites,
    decide_video,
    verdict_for,
)
from verify.verdict import Verdict

_KEY = settings_key(DEFAULT_METHOD, DEFAULT_MAX_SIDE, DEFAULT_MAX_FEATURES)


def _frames_of(item: ItemInfo) -> list[tuple[int, float, np.ndarray]]:
    if item.kind == "video":
        return [(k.frame_index, k.time, k.image) for k in extract_keyframes(item.path)]
    return [(0, 0.0, load_image(item.path, max_side=DEFAULT_MAX_SIDE))]


def _features(ctx: CheckContext, item: ItemInfo) -> list[tuple[int, float, Features, np.ndarray]]:
    out = []
    for index, time_s, image in _frames_of(item):
        name = f"{_KEY}-{index:08d}.npz"
        cached = ctx.ws.derived.read("features", item.sha256, name)
        if cached is not None:
            feats = Features.from_bytes(cached)
        else:
            feats = extract_features(image)
            ctx.ws.derived.write("features", item.sha256, name, feats.to_bytes())
        out.append((index, time_s, feats, image))
    return out


class SiteMatchCheck:
    name = "site_match"
    title = "Footage against site reference imagery"

    def run(self, ctx: CheckContext) -> list[FindingDraft]:
        case = ctx.case
        claimed = case.claimed_site.name if case.claimed_site else None
        references: dict[str, list[tuple[str, Features]]] = {s.name: [] for s in case.sites}
        ref_images: dict[str, np.ndarray] = {}
        footage = [i for i in case.items if i.is_footage]
        refs = [i for i in case.items if i.kind == "photo" and i.reference_of]
        task = ctx.progress.task("site matching", len(footage) + len(refs))
        drafts: list[FindingDraft] = []
        for item in refs:
            try:
                for _, _, feats, image in _features(ctx, item):
                    for site in item.reference_of:
                        references.setdefault(site, []).append((item.code, feats))
                    ref_images[item.code] = image
            except VerifyError as exc:
                drafts.append(
                    FindingDraft(
                        self.name,
                        Verdict.INCONCLUSIVE,
                        (item.code,),
                        {"reference_of": list(item.reference_of)},
                        f"reference image {item.filename} cannot be analysed, left out: {exc}",
                    )
                )
            task.advance()
        for item in footage:
            drafts.append(self._decide(ctx, item, references, ref_images, claimed))
            task.advance()
        return drafts

    def _decide(
        self,
        ctx: CheckContext,
        item: ItemInfo,
        references: dict[str, list[tuple[str, Features]]],
        ref_images: dict[str, np.ndarray],
        claimed: str | None,
    ) -> FindingDraft:
        values: dict[str, Any] = {
            "claimed_site": claimed,
            "matched_site": None,
            "scores": {},
            "frames": [],
            "direct": True,
            "via": [],
        }
        if not any(references.values()):
            return FindingDraft(
                self.name,
                Verdict.INCONCLUSIVE,
                (item.code,),
                values,
                "no site has reference imagery to compare with",
            )
        try:
            frames = _features(ctx, item)
        except VerifyError as exc:
            return FindingDraft(
                self.name,
                Verdict.INCONCLUSIVE,
                (item.code,),
                values,
                f"cannot analyse {item.filename}: {exc}",
            )
        decisions, pictures = [], {}
        for index, time_s, feats, image in frames:
            decision, matches = compare_with_sites(feats, references)
            decisions.append(FrameDecision(index, time_s, decision))
            pictures[index] = (image, matches, decision)
        video = decide_video(decisions)
        verdict = verdict_for(video, claimed) if claimed else Verdict.INCONCLUSIVE
        values.update(
            matched_site=video.matched_site,
            scores=dict(video.scores),
            frames=[
                {
                    "site": r.site,
                    "start_frame": r.start_frame,
                    "end_frame": r.end_frame,
                    "start_time": r.start_time,
                    "end_time": r.end_time,
                    "best_inliers": r.best_inliers,
                }
                for r in video.ranges
            ],
        )
        artefacts = []
        for site, frame_index in video.best_frame.items():
            if frame_index is None or frame_index not in pictures:
                continue
            image, matches, decision = pictures[frame_index]
            ref = decision.best_reference.get(site)
            if site in matches and ref in ref_images:
                pic = draw_matches(
                    image, ref_images[ref], matches[site], caption=f"{item.code} vs {ref} ({site})"
                )
                path = ctx.ws.derived.write(
                    "matches", item.sha256, f"{site}-{ref}.jpg".replace("/", "_"), encode_jpeg(pic)
                )
                artefacts.append(ctx.ws.derived.relative(path))
        scores = ", ".join(f"{s!r} {n}" for s, n in sorted(video.scores.items()))
        if video.matched_site is None:
            detail = f"{item.filename}: no site decided ({video.reason}); inliers {scores}"
        else:
            span = next((r for r in video.ranges if r.site == video.matched_site), None)
            where = (
                f" frames {span.start_frame}-{span.end_frame}"
                if item.kind == "video" and span
                else ""
            )
            other = (
                f", not the claimed site {claimed!r}"
                if claimed and video.matched_site != claimed
                else ""
            )
            detail = (
                f"{item.filename}{where} match site {video.matched_site!r}{other}; inliers {scores}"
            )
        return FindingDraft(self.name, verdict, (item.code,), values, detail, tuple(artefacts))
