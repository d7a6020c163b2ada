"""Fitted scorers and test videos' scores kept between runs of the detection benchmark
(`eval detect --keep-scorers DIR`).

A dataset of many cameras takes most of a run to fit (ShanghaiTech's 13: over half an hour on 2 cores).
Each camera's scorer is saved as it is fitted, beside a key of what it was fitted on: the dataset, the
camera, its normal footage, the scorer's settings, the device and a digest of the code that fits and
scores. The key is written after its scorer, so one cut short while saving is fitted again; so is one
fitted by other code, which would score differently. Each test video's scores are kept in its camera's
folder as they are made, under the camera's key and the video's identity. Footage is known by its name and
size, not its path (`identity`), so a dataset moved elsewhere keeps what was made from it.

A dataset without normal footage (UCF-Crime's 290 test videos) fits a scorer on each video's opening
and spends its run fitting and scoring video after video: there each video's scorer is kept with its
scores. A video's key is written first and its scores last, by the process that made them
(`SideBySide.score`, `on_openings`), so a video counts as done once its scores are whole, whichever
process finished it. A run stopped part-way, or run again for other figures (`--sigma`, the candidate
policy), loads what matches and fits and scores only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict
from functools import cache
from pathlib import Path

from vadagent.errors import ArtifactError
from vadagent.tools.scorer import Scorer, ScorerConfig, ScoreResult, SourceSpec
from vadagent.tools.scorer.result import RESULT
from vadagent.tools.video import frame_files

log = logging.getLogger(__name__)

KEY_FILE = "fitted_on.json"
Camera = tuple[str, list[SourceSpec]]  # a camera's name and the normal footage its scorer is fitted on


@cache
def scoring_code() -> str:
    """A digest of the modules that fit and score: the scorer's and the video reader's."""
    import vadagent.tools.scorer
    import vadagent.tools.video

    digest = hashlib.sha256()
    for package in (vadagent.tools.scorer, vadagent.tools.video):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class KeptScorers:
    """Under `folder`: a folder per camera with its saved scorer and, in a folder of its own, each of its
    test videos' scores; without normal footage, a folder per video with its own scorer and scores. Each
    holds the key it was made under."""

    def __init__(self, folder: str | Path, *, dataset: str, fps: float, config: ScorerConfig, device: str) -> None:
        self.folder = Path(folder)
        self._common = {"dataset": dataset, "fps": fps, "config": config.to_dict(), "device": device}
        # cameras ("site" for a dataset of one), or videos fitted on their openings, whose scorer was loaded, not fitted
        self.reused: list[str] = []
        self.scores_reused: list[str] = []  # test videos whose scores were loaded, not scored
        # each piece of footage's identity, read once a run: every test video's key holds its camera's footage
        self._identities: dict[str, dict] = {}

    def get(self, camera: str, sources: list[SourceSpec]) -> Scorer | None:
        """The kept scorer of `camera`, if it was fitted on these sources in the same way; else None."""
        place = self._place(camera)
        if not _vouched(place, self._key(camera, sources)):
            return None
        try:
            scorer = Scorer.load(place)
        except ArtifactError as error:
            log.warning("%s; fitting it again", error)
            return None
        self.reused.append(camera or "site")
        return scorer

    def put(self, camera: str, sources: list[SourceSpec], scorer: Scorer) -> None:
        place = self._place(camera)
        (place / KEY_FILE).unlink(missing_ok=True)  # no key vouches for a scorer while it is being written
        scorer.save(place)
        (place / KEY_FILE).write_text(json.dumps(self._key(camera, sources), indent=2) + "\n", encoding="utf-8")

    def scores(self, video: str, path: str | Path, camera: Camera | None = None) -> ScoreResult | None:
        """This test video's kept scores, if made in the same way: by `camera`'s scorer (its name and
        footage) or, without one, by a scorer fitted on the video's own opening; else None."""
        place = self._video_place(video, camera)
        if not _vouched(place, self._video_key(video, path, camera)) or not (place / f"{RESULT}.json").is_file():
            return None  # not made this way, not made yet, or cut short
        try:
            result = ScoreResult.load(place)
        except ArtifactError as error:
            log.warning("%s; scoring it again", error)
            return None
        self.scores_reused.append(video)
        return result

    def scored(self, video: str, path: str | Path) -> tuple[Scorer, ScoreResult] | None:
        """The kept scorer fitted on this video's opening, and its scores, if made in the same way; else None."""
        result = self.scores(video, path)
        if result is None:
            return None
        try:
            scorer = Scorer.load(self._video_place(video))
        except ArtifactError as error:
            self.scores_reused.remove(video)
            log.warning("%s; fitting and scoring it again", error)
            return None
        self.reused.append(video)
        return scorer, result

    def place_for(self, video: str, path: str | Path, camera: Camera | None = None) -> Path:
        """The folder for this video's scores (and, fitted on its opening, its scorer before them): the
        scores, saved last, vouch for the folder; its key is written first."""
        place = self._video_place(video, camera)
        place.mkdir(parents=True, exist_ok=True)
        (place / f"{RESULT}.json").unlink(missing_ok=True)  # scores made another way must not count for this key
        (place / KEY_FILE).write_text(json.dumps(self._video_key(video, path, camera), indent=2) + "\n",
                                      encoding="utf-8")
        return place

    def _place(self, camera: str) -> Path:
        return self.folder / (f"camera-{camera}" if camera else "site")

    def _video_place(self, video: str, camera: Camera | None = None) -> Path:
        return (self._place(camera[0]) if camera else self.folder) / ("video-" + re.sub(r"[^\w.-]", "_", video))

    def _video_key(self, video: str, path: str | Path, camera: Camera | None) -> dict:
        scorer = self._key(*camera) if camera else {**self._common, "fitted_on": "its opening", "code": scoring_code()}
        return json.loads(json.dumps({**scorer, "video": video, "path": self._identity(path)}))

    def _identity(self, path: str | Path) -> dict:
        if str(path) not in self._identities:
            self._identities[str(path)] = identity(path)
        return self._identities[str(path)]

    def _key(self, camera: str, sources: list[SourceSpec]) -> dict:
        footage = [{**asdict(spec), "path": self._identity(spec.path)} for spec in sources]
        # through JSON, as it is read back (tuples become lists)
        return json.loads(json.dumps({**self._common, "camera": camera, "normal": footage, "code": scoring_code()}))


def identity(path: str | Path) -> dict:
    """What a video file or frame folder is, wherever it lies: its name and size (a folder's: its frames'
    count and bytes). Not its path, so a dataset moved or copied elsewhere keeps what was made from it;
    not its times, which a copy does not keep."""
    place = Path(path)
    if place.is_dir():
        frames = frame_files(place)
        return {"name": place.name, "frames": len(frames), "bytes": sum(f.stat().st_size for f in frames)}
    return {"name": place.name, "bytes": place.stat().st_size}


def _vouched(place: Path, key: dict) -> bool:
    """Whether the key kept in `place` is this one."""
    try:
        return json.loads((place / KEY_FILE).read_text(encoding="utf-8")) == key
    except (OSError, ValueError):  # none yet, or not one of ours
        return False
