"""Bad input thrown at every command, as a careless or hostile user would: missing, empty, truncated
and disguised files, bad time ranges, malformed, oversized and alias-bomb YAML, corrupt reports,
scorers and replay files. The contract: exit 2, one line naming the file and the problem, no
traceback, and nothing slow (each fails before fitting or loading a model)."""

import json

import cv2
import numpy as np
import pytest
from inprocess import invoke

from vadagent.samples import sample_clip


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    import av

    d = tmp_path_factory.mktemp("bad")
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("just some text, renamed\n" * 20)
    with av.open(str(sample_clip())) as src, av.open(str(d / "faststart.mp4"), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    whole = (d / "faststart.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    (d / "tiny.mp4").write_bytes(whole[:60])
    with av.open(str(d / "one_frame.mp4"), "w") as dst:
        stream = dst.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            dst.mux(packet)
    with av.open(str(d / "unknown_codec.avi"), "w") as dst:  # then given a codec tag nothing decodes
        stream = dst.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(5):
            dst.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
        dst.mux(stream.encode(None))
    (d / "unknown_codec.avi").write_bytes((d / "unknown_codec.avi").read_bytes().replace(b"FMP4", b"XQZ1"))
    (d / "malformed.yaml").write_text("scene: x\nrules: [\n")
    (d / "huge.yaml").write_text("scene: x\n" + "# padding\n" * 120_000)
    aliases = "".join(f"b{i}: &b{i} [*a, *a, *a]\n" for i in range(60))
    (d / "bomb.yaml").write_text("a: &a [x, x, x, x, x, x, x, x, x]\n" + aliases)
    (d / "duplicate.yaml").write_text("scene: x\nversion: 1\nscene: y\nrules: []\n")
    (d / "binary.jsonl").write_bytes(bytes(range(256)) * 4)
    (d / "no_answers.jsonl").write_text("")  # a replay model with nothing to say: never asked here
    (d / "scorer").mkdir()
    (d / "scorer" / "scorer.json").write_text("{not json")
    (d / "scorer" / "scorer.safetensors").write_bytes(b"\0" * 64)
    (d / "report.json").write_text(json.dumps({"schema_version": "1.0", "video": {"path": "x.mp4", "fps": -1}}))
    (d / "empty_folder").mkdir()
    cv2.imwrite(str(d / "photo.jpg"), np.full((48, 64), 128, np.uint8))  # a still given as a video
    (d / "two_videos").mkdir()
    for name in ("a.mp4", "b.mkv"):  # a folder of normal clips: fit reads each, one video's commands name one
        (d / "two_videos" / name).write_bytes(b"x")
    (d / "config.yaml").write_text("vlm: {timeout_s: -3}\n")
    (d / "cameras.yaml").write_text("cameras:\n  - url: rtsp://cam/1\n    scorer: s\n    fps: 25\n")
    return d


CASES = [
    (["info", "{d}/missing.mp4"], "missing.mp4: no such file"),
    (["info", "{d}/empty.mp4"], "empty.mp4: file is empty"),
    (["info", "{d}/text.mp4"], "text.mp4: not a readable video"),
    (["info", "{d}/cut.mp4"], "cut.mp4: truncated: its header declares"),
    (["info", "{d}/tiny.mp4"], "tiny.mp4: has no video stream"),
    (["info", "{d}/photo.jpg"], "photo.jpg: a still image, not a video; a video's frames are given as a folder"),
    (["info", "{d}/unknown_codec.avi"], "unknown_codec.avi: its video stream's codec is unknown to FFmpeg"),
    (["fit", "{d}/one_frame.mp4", "-o", "{d}/out_fit"], "one_frame.mp4: the normal footage has fewer than 2"),
    (["fit", "{d}/empty_folder", "-o", "{d}/out_fit"], "empty_folder: no videos or frame images in it"),  # and nothing else
    (["fit", "{d}/two_videos#t=0,5", "-o", "{d}/out_fit"], "a time range is of one video, and"),
    (["explain", "{d}/two_videos", "-o", "{d}/o13"], "it holds 2 video(s) (a.mp4, b.mkv): name one, or explain each with"),
    # no normal footage: its opening would stand in (said of the video given, not of the stand-in's range)
    (["explain", "{d}/one_frame.mp4", "--vlm", "replay:{d}/no_answers.jsonl", "-o", "{d}/o12"],
     "one_frame.mp4: 1 frame(s), too few to score without normal footage"),
    (["fit", "{sample}#t=abc", "-o", "{d}/out_fit"], "bad time range 'abc'"),
    (["fit", "{sample}#t=99,100", "-o", "{d}/out_fit"], "starts after the video ends"),
    (["explain", "{sample}", "--rules", "{d}/malformed.yaml", "-o", "{d}/o1"], "malformed.yaml: malformed YAML at line"),
    (["explain", "{sample}", "--rules", "{d}/huge.yaml", "-o", "{d}/o2"], "huge.yaml: 1,200,009 bytes"),
    (["explain", "{sample}", "--rules", "{d}/bomb.yaml", "-o", "{d}/o3"], "alias bomb"),
    (["rules", "validate", "{d}/duplicate.yaml"], "duplicate.yaml: malformed YAML at line 3: duplicate key 'scene'"),
    (["explain", "{sample}", "--taxonomy", "no_such_taxonomy", "-o", "{d}/o4"], "no_such_taxonomy"),
    (["explain", "{sample}", "--vlm", "replay:{d}/binary.jsonl", "-o", "{d}/o5"], "binary.jsonl: not a text file"),
    (["explain", "{d}/text.mp4", "-o", "{d}/o6"], "text.mp4: not a readable video"),
    (["score", "{sample}", "--scorer", "{d}/scorer", "-o", "{d}/o7"], "scorer.json: corrupt scorer config"),
    (["chat", "{d}/report.json"], "report.json: not a valid report: video.fps"),
    (["chat", "{d}/empty_folder"], "empty_folder: neither a report folder (no report.json in it), a batch's folder"),
    (["report", "{d}/empty_folder", "-o", "{d}/o8"], "empty_folder: no videos"),
    (["--config", "{d}/config.yaml", "info", "{sample}"], "invalid settings in"),
    (["eval", "severity", "{d}/binary.jsonl"], "binary.jsonl: not a text file"),
    (["watch", "{sample}", "-o", "{d}/o9"], "no scorer; give --scorer DIR"),
    (["watch", "{d}/missing.mp4", "--scorer", "{d}/scorer", "-o", "{d}/o10"], "missing.mp4: no such file"),
    (["watch", "{d}/cameras.yaml", "-o", "{d}/o11"], "cameras.yaml: invalid CameraList: line 4: cameras.0.fps"),
    (["record", "{sample}", "-o", "{d}/recording.avi"], "recording.avi: the recording is written as MP4"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0][:2]) + f" #{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line_and_exit_2(bad, argv, message):
    result = invoke(*[a.format(d=bad, sample=sample_clip()) for a in argv], env={"HF_HUB_OFFLINE": "1"})
    err = result.stderr
    assert result.returncode == 2, err
    assert "Traceback" not in err
    said = " ".join(line for line in err.splitlines() if not line.startswith("WARNING"))
    assert said.startswith("error:") and message in " ".join(said.split()), err
