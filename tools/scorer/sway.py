"""What sways in place, told from an object: leaves in the wind, a flag.

Leaves swing back and forth about where they hang, so the objects tier finds them as objects wherever they differ from
the background; in the wind of the normal footage's day those are objects like the footage's, but in more wind they
swing further and faster than any it saw: a tree's crown over the footpath, fitted in a breeze, had 81 % of a normal
clip in twice the wind flagged (evals/HISTORY.md, release 54). What sways is told by its motion: each pixel's flow,
speed and frame difference averaged over about FRAMES frames, a pixel sways where it moves (SPEED px a frame at the
objects' size) and its motion cancels out (the mean flow under NET of the mean speed), as nothing passing by does. The
place of a site's normal footage that swayed so, where the picture also changed (CHANGE gray levels a frame: the flow's
noise on a still, grainy texture cancels out too), in ZONE of its frames, closed over and widened by REACH px (more
wind swings it further), is kept with the scorer with its mean speed there. While it sways WINDIER times as fast as
that, the objects tier finds no object in it, and says so (WORDS), and the motion tier divides the flow of the cells
it covers by how many times as fast it sways (MOTION_WORDS); in the footage's wind its leaves are objects like the
footage's, and someone in front of it is seen. The motion tier, which has no background of its own, reads the place
from the footage's median picture (SIDE, IN_FRONT): on the synthetic tree, the same place to the pixel.

Measured before these were set (ad hoc, release 54): a synthetic tree in a breeze swayed so in over half of the frames
on 8 % of the picture, no pixel of Ped2's training footage or the shop camera's normal video in more than 21 %; the
breeze's gusts move its speed between 0.6 and 1 of their strength. Counted only where nothing has been in front of the
background lately (under CLEAR of the last FRAMES frames or so): a crowd hurrying both ways along a path cancels out in
place too, but stands in front of it; leaves in a breeze seldom differ from the background by the objects' threshold.

Each tier's `sway`, on by default from release 55 (a site setting, off by default, in release 54): counted where
anything stood in front of the background, the busy synthetic crowd at twice the test fixture's density swayed so on
27 % of the picture, where more people than the footage's would then have their objects held; with CLEAR none of it,
nor of the fixture's own (release 54), nor of any real footage held here: the nine UCF-Crime sample videos' openings
(streets, a shop, a fight), Ped2's training and test clips (a walkway with crowds, cyclists and carts): a site without
trees or flags in view reads as without it (evals/HISTORY.md, release 55). `vadagent fit` says when the footage has such
a place.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FRAMES = 25
SPEED = 0.1
NET = 0.5
CHANGE = 2.0
ZONE = 0.5
REACH = 2
CLEAR = 0.05
WINDIER = 1.5
# the motion tier, which finds no objects, reads what sways at the working size divided by a whole step to at least
# SIDE px (the objects tier's default size), and takes as in front what is IN_FRONT gray levels from the footage's
# median picture (the objects tier's threshold)
SIDE = 180
IN_FRONT = 25.0

# how a video's picture was read where it swayed faster than the footage's (ScoreResult.picture, the report's notes)
WORDS = "leaves or flags swaying faster than in the normal footage: no object read where they sway (wind)"
MOTION_WORDS = "leaves or flags swaying faster than in the normal footage: their motion judged at its wind (wind)"


def fit_notes(place: Place | None, tier: str, on: bool, acting: str) -> list[str]:
    """What `vadagent fit` says of the footage's place that sways for a tier (Tier.fit_notes): what the tier does there
    in more wind (`acting`) or, where its `sway` is off, how to turn it on."""
    if place is None or not place.zone.any():
        return []
    share = f"{place.zone.mean():.1%} of the picture sways in place in this footage (leaves or flags in the wind)"
    if on:
        return [f"{share}: while it sways {WINDIER:g} times as fast as here, the {tier} tier {acting}"]
    return [f"{share}; a crowd going both ways may read so too: if it is leaves or flags, the {tier} tier's sway "
            f"(scorer: {{params: {{{tier}: {{sway: true}}}}}}) keeps more wind than this footage's from being flagged"]


@dataclass
class Counted:
    """A stretch of normal footage, as read for its place that sways: the frames each pixel swayed in, each pixel's
    mean speed summed over the frames, and the frames."""

    swayed: np.ndarray
    speed: np.ndarray
    frames: int = 0

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> Counted:
        return cls(np.zeros(shape, np.int32), np.zeros(shape, np.float64))


@dataclass
class Place:
    """Where a site's normal footage swayed in place (`zone`, at the objects' size) and its mean speed there (px a
    frame at that size)."""

    zone: np.ndarray
    speed: float = 0.0

    @classmethod
    def nowhere(cls, shape: tuple[int, int]) -> Place:
        return cls(np.zeros(shape, bool))

    @classmethod
    def found(cls, counted: list[Counted], shape: tuple[int, int]) -> Place:
        """The place that swayed in ZONE of the footage's frames or more, closed over and widened by REACH."""
        frames = max(sum(c.frames for c in counted), 1)
        zone = (sum((c.swayed for c in counted), np.zeros(shape, np.int64)) >= ZONE * frames).astype(np.uint8)
        if not zone.any():
            return cls.nowhere(shape)
        reach = np.ones((2 * REACH + 1, 2 * REACH + 1), np.uint8)
        # the leaves' flat insides change little from frame to frame: closed over
        zone = cv2.dilate(cv2.morphologyEx(zone, cv2.MORPH_CLOSE, reach, iterations=2), reach).astype(bool)
        speed = sum((c.speed for c in counted), np.zeros(shape)) / frames
        return cls(zone, float(speed[zone].mean()))

    def box(self) -> tuple[slice, slice]:
        """The rows and columns of the zone's bounding box: a reader that only judges the place reads no more."""
        rows, cols = np.flatnonzero(self.zone.any(1)), np.flatnonzero(self.zone.any(0))
        return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


class Motion:
    """Each pixel's flow, speed and frame difference averaged over about FRAMES frames, as a video is read."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.net_flow = np.zeros((*shape, 2), np.float32)
        self.speed = np.zeros(shape, np.float32)
        self.change = np.zeros(shape, np.float32)
        self.in_front = np.zeros(shape, np.float32)  # how much of the time lately something stood in front

    def sways(self, flow: np.ndarray) -> np.ndarray:
        """Where the picture sways in place now (flow at the objects' size): it moves, and its motion of the last
        FRAMES frames or so cancels out."""
        self.net_flow += (flow - self.net_flow) / FRAMES
        self.speed += (np.hypot(flow[..., 0], flow[..., 1]) - self.speed) / FRAMES
        return (self.speed > SPEED) & (np.hypot(self.net_flow[..., 0], self.net_flow[..., 1]) < NET * self.speed)

    def count(self, sways: np.ndarray, change: np.ndarray, foreground: np.ndarray, counted: Counted) -> None:
        """Add a normal frame to `counted`: `sways` of it, its difference from the one before and its foreground (what is
        in front of the background), at the objects' size."""
        self.change += (change - self.change) / FRAMES
        self.in_front += (foreground - self.in_front) / FRAMES
        counted.swayed += sways & (self.change > CHANGE) & (self.in_front < CLEAR)
        counted.speed += self.speed
        counted.frames += 1

    def windier(self, place: Place) -> bool:
        """Whether the place sways WINDIER times as fast as in the footage now."""
        return float(self.speed[place.zone].mean()) > WINDIER * place.speed


class Gusts:
    """How many times as fast as in the footage a place sways now, as a video is read, from flow of another size
    (`shape`, in px a frame that `scale` turns into the place's): its mean speed, each flow pixel weighted by the
    place's pixels nearest it, averaged over about FRAMES frames, as Motion's is (a mean of running means is the running
    mean of the means), for a reader that needs no more of each frame: sampling the flow where the place is costs
    little, resizing all of it to the place's size cost the motion tier 0.85 ms a frame at 320 x 240 (release 55)."""

    def __init__(self, place: Place, shape: tuple[int, int], scale: float = 1.0) -> None:
        rows, cols = np.nonzero(place.zone)
        height, width = place.zone.shape
        nearest = (np.minimum(((rows + 0.5) * shape[0] / height).astype(np.int64), shape[0] - 1),
                   np.minimum(((cols + 0.5) * shape[1] / width).astype(np.int64), shape[1] - 1))
        counts = np.zeros(shape)
        np.add.at(counts, nearest, 1.0)
        self.at = np.nonzero(counts)
        self.weights = counts[self.at] / counts.sum() * scale / place.speed
        self.wind = 0.0

    def feed(self, flow: np.ndarray) -> float:
        """This frame's wind."""
        moving = flow[self.at]
        self.wind += (float(np.hypot(moving[:, 0], moving[:, 1]) @ self.weights) - self.wind) / FRAMES
        return self.wind
