import numpy as np
import pytest

from vadagent.evals.detection import event_recall, events, kept_mask, macro_auc, micro_auc
from vadagent.types import Candidate


def test_auc_by_hand():
    labels = [np.array([0, 0, 1, 1]), np.array([0, 1, 1])]
    scores = [np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.2, 0.3, 0.9])]
    # pooled: positives {0.35, 0.8, 0.3, 0.9}, negatives {0.1, 0.4, 0.2}; 10 of 12 pairs ordered right
    assert micro_auc(labels, scores) == pytest.approx(10 / 12)
    # per video: 3/4 and 2/2
    assert macro_auc(labels, scores) == pytest.approx((0.75 + 1.0) / 2)


def test_micro_auc_with_each_video_min_max_normalised_by_hand():
    from vadagent.evals.detection import micro_auc_min_max

    # a quiet video's anomaly scores below busier videos' normal frames: pooled raw, 6 of 10 pairs ordered right
    # (0.3 loses to 0.5, 0.6 and both 0.7s); each video scaled to [0, 1] over its whole length, all 10 (the third's
    # equal scores go to 0)
    labels = [np.array([0, 1]), np.array([0, 0, 1]), np.array([0, 0])]
    scores = [np.array([0.1, 0.3]), np.array([0.5, 0.6, 0.9]), np.array([0.7, 0.7])]
    assert micro_auc(labels, scores) == pytest.approx(6 / 10)
    assert micro_auc_min_max(labels, scores) == pytest.approx(1.0)


def test_macro_skips_single_class_videos_without_padding():
    labels = [np.array([0, 1]), np.array([1, 1, 1])]
    scores = [np.array([0.0, 1.0]), np.array([0.1, 0.2, 0.3])]
    assert macro_auc(labels, scores) == 1.0
    with pytest.raises(ValueError, match="both normal and anomalous"):
        macro_auc([np.array([1, 1])], [np.array([0.1, 0.2])])


def test_events_and_recall():
    y = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1])
    assert events(y) == [(1, 2), (5, 5), (7, 9)]
    mask = kept_mask([Candidate(start_s=0.2, end_s=0.3, peak_s=0.2, peak_score=1, start_frame=2, end_frame=3)], 10)
    assert event_recall([y], [mask]) == (1, 3)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="labels but"):
        micro_auc([np.array([0, 1])], [np.array([0.1])])


def test_average_precision_by_hand():
    from vadagent.evals.detection import average_precision

    # ranked: 0.9 (pos), 0.8 (neg), 0.7 (pos) → AP = (1/1 + 2/3) / 2
    assert average_precision([np.array([1, 0, 1])], [np.array([0.9, 0.8, 0.7])]) == pytest.approx((1 + 2 / 3) / 2)


def test_micro_headroom_by_hand():
    from vadagent.evals.detection import micro_headroom

    labels = [np.array([0, 0, 1, 1]), np.array([0, 1, 1]), np.array([1, 1])]
    scores = [np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.2, 0.3, 0.9]), np.array([0.5, 0.6])]
    # pooled: positives {0.35, 0.8, 0.3, 0.9, 0.5, 0.6}, negatives {0.1, 0.4, 0.2}: 16 of 18 pairs right
    # (0.35 and 0.3 each lose to 0.4); video 1's positive 0.35 and video 2's positive 0.3 each win one
    # pair more when their video's anomalies go to the top; video 1's negative 0.4 going to the bottom
    # wins both; video 2's negative and video 3's anomalies are already ordered right.
    gains = micro_headroom(labels, scores)
    assert gains[0]["anomalous"] == pytest.approx(1 / 18) and gains[0]["normal"] == pytest.approx(2 / 18)
    assert gains[1]["anomalous"] == pytest.approx(1 / 18) and gains[1]["normal"] == pytest.approx(0.0)
    assert gains[2] == {"anomalous": pytest.approx(0.0), "normal": None}


def test_box_coverage_and_pixel_auc_by_hand():
    from vadagent.evals.detection import box_coverage, pixel_auc

    masks = np.zeros((4, 10, 10), bool)
    masks[2, 0:2, 0:5] = True  # 10 anomalous pixels, 5 of them in its box
    masks[3, 8:10, 8:10] = True  # 4 pixels, its box reaches past the frame's edge and holds 1
    boxes = np.array([[0, 0, 3, 3], [0, 0, 0, 0], [0, 0, 9, 1], [9, 9, 20, 20]])
    coverage = box_coverage(masks, boxes)
    assert np.isnan(coverage[:2]).all() and coverage[2:].tolist() == pytest.approx([0.5, 0.25])

    labels, scores = [np.array([0, 0, 1, 1])], [np.array([0.1, 0.4, 0.35, 0.8])]
    # frame level: 0.35 loses to 0.4, 0.8 wins both: 3 of 4 pairs; by the pixel criterion (40 %) the 0.8
    # frame's box holds too little of its anomaly, so it is never a true positive: 1 of 4
    assert pixel_auc(labels, scores, [coverage]) == pytest.approx(1 / 4)
    assert pixel_auc(labels, scores, [coverage], min_coverage=0.25) == pytest.approx(micro_auc(labels, scores))
    with pytest.raises(ValueError, match="masks but"):
        box_coverage(masks, boxes[:3])


def test_ped2_pixel_masks_load_at_the_frames_size_and_agree_with_the_frame_labels(ped2):
    from vadagent.evals.datasets import load_ucsd

    video = load_ucsd(ped2).test[0]
    masks = video.masks()
    assert masks.shape == (len(video.labels), 240, 360) and masks.dtype == bool
    assert (masks.reshape(len(masks), -1).any(1) == (video.labels > 0)).all()
