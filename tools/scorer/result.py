"""A video's scores as a scorer gave them (each frame's fused and per-tier scores, the threshold, the
evidence), the candidates the product picks from them, and their artefact: `result.json` +
`result.safetensors`, never pickle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from vadagent.errors import ArtifactError
from vadagent.tools.scorer.candidates import CandidatePolicy, pick_candidates
from vadagent.tools.scorer.tiers import Evidence
from vadagent.tools.scorer.view import AWAY_WORDS, VIEW_WORDS, joined
from vadagent.types import Candidate, FrameScores, Region, VideoInfo

RESULT, RESULT_VERSION = "result", 1  # a ScoreResult saved: result.json + result.safetensors


@dataclass
class ScoreResult:
    info: VideoInfo
    scorer_id: str
    scores: np.ndarray  # calibrated, before optional smoothing
    threshold: float
    evidence: Evidence
    skipped: int
    seconds: float
    tier_scores: dict[str, np.ndarray] = field(default_factory=dict)  # each tier's calibrated score
    settled_from: int = 0  # frames before this are a black or fading-in opening: never candidates
    self_fitted: bool = False  # the scorer's normal footage was (part of) this very video
    stand_in: bool = False  # and no normal footage was given: the video's opening stood in for it
    damaged: list[tuple[int, int]] = field(default_factory=list)  # frames decoded from damaged data (`VideoSource.damaged`)
    # (first frame, how the picture was read from there against the normal footage's: frames.picture_reading; "": as it
    # came), at each change; empty where it was read as it came throughout
    picture: list[tuple[int, str]] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)  # frames that begin a new shot of an edited video (cuts.py)
    shots: list[int] = field(default_factory=list)  # and those that begin a shot scored by a stand-in of its own
    clock: str | None = None  # how its frames, which came at uneven times, were put on a regular clock (regular.py)
    paused: list[tuple[int, int]] = field(default_factory=list)  # and where the recording had none for a second or more

    @property
    def other_view(self) -> bool:
        """Whether its view was not the normal footage's from its first frame to its last: another camera's video (or
        one moved for good) scored by this site's scorer, whose scores then compare it with another scene."""
        return bool(self.picture) and self.picture[0][0] == 0 and all(AWAY_WORDS in read for _, read in self.picture)

    def spliced(self, part: ScoreResult, start: int, end: int | None = None) -> ScoreResult:
        """These scores with frames `start` to `end` (None: as far as `part` goes) taken from `part`, the same video's
        scores by another scorer (both in z-units of their own normal footage, so they join without rescaling). Tier
        scores are kept for the tiers both have."""
        end = min(len(self.scores), len(part.scores), len(self.scores) if end is None else end)
        scores = self.scores.copy()
        scores[start:end] = part.scores[start:end]
        evidence = Evidence(*(getattr(self.evidence, f.name).copy() for f in fields(Evidence)))  # these stay as they are
        for name in ("box", "speed_px_s", "direction_deg", "vs_normal", "note"):
            getattr(evidence, name)[start:end] = getattr(part.evidence, name)[start:end]
        tiers = {name: np.concatenate([z[:start], part.tier_scores[name][start:end], z[end:]])
                 for name, z in self.tier_scores.items() if name in part.tier_scores}
        return replace(self, scores=scores, evidence=evidence, tier_scores=tiers, seconds=self.seconds + part.seconds)

    def until(self, end: int) -> ScoreResult:
        """Its first `end` frames, with what was read of them (the picture, cuts, damage)."""
        if end >= len(self.scores):
            return self
        return replace(self, scores=self.scores[:end], evidence=self.evidence.take(slice(0, end)),
                       tier_scores={name: z[:end] for name, z in self.tier_scores.items()},
                       damaged=[(a, min(b, end)) for a, b in self.damaged if a < end],
                       picture=[step for step in self.picture if step[0] < end], cuts=[f for f in self.cuts if f < end],
                       shots=[f for f in self.shots if f < end], paused=[(a, min(b, end)) for a, b in self.paused if a < end])

    def then(self, part: ScoreResult) -> ScoreResult:
        """These scores, then `part`'s from the frame where these end: the same video read on from there by
        another scorer (an edited video's next shot, in z-units of its own footage, as these are), with what it
        read of those frames. Tier scores are kept for the tiers both have."""
        n = len(self.scores)

        def on(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
            return np.concatenate([ours, theirs[n:]])

        return replace(self, scores=on(self.scores, part.scores),
                       evidence=Evidence(*(on(getattr(self.evidence, f.name), getattr(part.evidence, f.name))
                                           for f in fields(Evidence))),
                       tier_scores={name: on(z, part.tier_scores[name]) for name, z in self.tier_scores.items()
                                    if name in part.tier_scores},
                       skipped=self.skipped + part.skipped, seconds=self.seconds + part.seconds,
                       damaged=self.damaged + [(max(a, n), b) for a, b in part.damaged if b > n],
                       paused=self.paused + [(max(a, n), b) for a, b in part.paused if b > n],
                       # the words in force where `part` takes over are its own
                       picture=joined([*self.picture, (n, "")], [(max(first, n), said) for first, said in part.picture]),
                       cuts=self.cuts + [f for f in part.cuts if f >= n])

    def candidates(self, policy: CandidatePolicy | None = None, sigma: float = 0.0) -> list[Candidate]:
        """The product's candidates from these scores: threshold, call budget, coverage floor, the
        budget filled when the video's own opening stood in for normal footage, never in a blank opening."""
        policy = policy or CandidatePolicy()
        picked = pick_candidates(self.smoothed(sigma), self.info.fps, policy, threshold=self.threshold,
                                 ignore_before=self.settled_from, fill=policy.fills(self.stand_in))
        return [c.model_copy(update={"region": self.region_of(c)}) for c in picked]

    def region_of(self, candidate: Candidate) -> Region | None:
        """Where a candidate's evidence lies: where the camera's view changed within it, if it did (a lens covered or
        a camera knocked is what the tiers saw then; their own peak may lie a frame away), else at its peak."""
        frames = np.flatnonzero((self.evidence.frame >= candidate.start_frame) & (self.evidence.frame <= candidate.end_frame))
        said = [i for i in frames if str(self.evidence.note[i]).startswith(VIEW_WORDS)]
        return self._region(int(self.evidence.frame[said[0]])) if said else self.region_at(candidate.peak_s)

    def evidence_box(self, frame: int) -> tuple[int, int, int, int] | None:
        """The box (source pixels) of a frame's evidence; None where it has none."""
        row = self._row(frame)
        if row is None:
            return None
        x0, y0, x1, y1 = (int(v) for v in self.evidence.box[row])
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def region_at(self, time_s: float) -> Region | None:
        """Where the evidence of the frame at `time_s` lies, and what the scorer said of it (None where that frame
        has no box)."""
        return self._region(min(max(round(time_s * self.info.fps), 0), len(self.scores) - 1))

    def _region(self, frame: int) -> Region | None:
        box = self.evidence_box(frame)
        if box is None:
            return None
        row = self._row(frame)
        why = str(self.evidence.note[row] or "") or self.evidence.motion_words(row)
        return Region.of(box, self.info.width, self.info.height, round(frame / self.info.fps, 3), why=why)

    def _row(self, frame: int) -> int | None:
        """The evidence's row of `frame` (None where it has none)."""
        rows = np.flatnonzero(self.evidence.frame == frame)
        return int(rows[0]) if len(rows) else None

    def smoothed(self, sigma: float) -> np.ndarray:
        return gaussian_filter1d(self.scores, sigma, mode="nearest") if sigma > 0 else self.scores

    def frame_scores(self, sigma: float = 0.0) -> FrameScores:
        return FrameScores(
            scorer_id=self.scorer_id, fps=self.info.fps, scores=self.smoothed(sigma).round(4).tolist(),
            smoothing_sigma=sigma, threshold=round(self.threshold, 4),
        )

    # -- artefacts: every array as it was scored (`result.safetensors`), the rest as JSON; never pickle
    def save(self, folder: str | Path) -> Path:
        """Into `folder`; the JSON last and whole (written aside, then renamed), so a save cut short is no result."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{RESULT}.json").unlink(missing_ok=True)  # an earlier result's would vouch for these arrays
        arrays = {"scores": self.scores, **{f"tier.{name}": s for name, s in self.tier_scores.items()},
                  **{f"evidence.{f.name}": getattr(self.evidence, f.name) for f in fields(Evidence) if f.name != "note"}}
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(folder / f"{RESULT}.safetensors"))
        meta = {"artifact": "vadagent-score-result", "version": RESULT_VERSION, "info": self.info.model_dump(),
                "scorer_id": self.scorer_id, "threshold": self.threshold, "skipped": self.skipped,
                "seconds": self.seconds, "settled_from": self.settled_from, "self_fitted": self.self_fitted,
                "stand_in": self.stand_in, "damaged": [list(span) for span in self.damaged],
                "picture": [list(change) for change in self.picture], "cuts": self.cuts, "shots": self.shots,
                "clock": self.clock, "paused": [list(span) for span in self.paused],
                "evidence_notes": [str(note) for note in self.evidence.note]}
        aside = folder / f".{RESULT}.json.partial"
        aside.write_text(json.dumps(meta) + "\n", encoding="utf-8")
        aside.replace(folder / f"{RESULT}.json")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ScoreResult:
        folder = Path(folder)
        meta_path, arrays_path = folder / f"{RESULT}.json", folder / f"{RESULT}.safetensors"
        if not meta_path.is_file() or not arrays_path.is_file():
            raise ArtifactError(f"{folder}: no saved scores (needs {meta_path.name} and {arrays_path.name})")
        try:
            from safetensors.numpy import load_file

            meta, arrays = json.loads(meta_path.read_text(encoding="utf-8")), load_file(str(arrays_path))
            if meta.get("artifact") != "vadagent-score-result" or meta.get("version") != RESULT_VERSION:
                raise ArtifactError(f"not saved scores of this vadagent (version {meta.get('version')}, "
                                    f"this one reads {RESULT_VERSION})")
            notes = np.array(meta["evidence_notes"], dtype=object)
            evidence = Evidence(*(arrays[f"evidence.{f.name}"] for f in fields(Evidence) if f.name != "note"), notes)
            tiers = {k.removeprefix("tier."): v for k, v in arrays.items() if k.startswith("tier.")}
            if len(notes) != len(evidence.frame) or any(len(s) != len(arrays["scores"]) for s in tiers.values()):
                raise ArtifactError("its arrays do not match one another")
            return cls(VideoInfo.model_validate(meta["info"]), meta["scorer_id"], arrays["scores"],
                       float(meta["threshold"]), evidence, int(meta["skipped"]), float(meta["seconds"]),
                       tiers, int(meta["settled_from"]), bool(meta["self_fitted"]), bool(meta["stand_in"]),
                       [(int(a), int(b)) for a, b in meta["damaged"]],
                       [(int(frame), str(read)) for frame, read in meta.get("picture", [])],  # older results: none
                       [int(frame) for frame in meta.get("cuts", [])], [int(frame) for frame in meta.get("shots", [])],
                       meta.get("clock"), [(int(a), int(b)) for a, b in meta.get("paused", [])])
        except ArtifactError as exc:
            raise ArtifactError(f"{folder}: {exc}") from None
        except Exception as exc:  # JSON, safetensors, key and validation errors all mean a broken artefact
            raise ArtifactError(f"{folder}: corrupt saved scores: {exc}") from None
