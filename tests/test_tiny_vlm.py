"""Tiny random VLMs of real architectures load and generate through the real transformers path."""

import numpy as np
import pytest
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor


@pytest.mark.parametrize("arch, model_class", [
    ("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration"), ("smolvlm", "SmolVLMForConditionalGeneration"),
])
def test_tiny_vlm_loads_and_answers_image_and_video(tiny_vlm, arch, model_class):
    folder = tiny_vlm(arch)
    assert sum(f.stat().st_size for f in folder.iterdir()) < 3_000_000
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    assert type(model).__name__ == model_class
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    for kind, media in [("image", {"images": [[image]] if arch == "smolvlm" else [image]}),
                        ("video", {"videos": [rng.integers(0, 255, (8, 240, 320, 3), dtype=np.uint8)]})]:
        messages = [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": "What happens?"}]}]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
        extra = {}
        if kind == "video" and arch == "smolvlm":  # pre-sampled frames need their metadata
            extra = {"videos_kwargs": {"video_metadata": [{"fps": 2.0, "total_num_frames": 8,
                                                           "frames_indices": list(range(8))}]}}
        inputs = processor(text=[prompt], return_tensors="pt", **media, **extra)
        output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
        assert output.shape[1] > inputs["input_ids"].shape[1]


def test_doctor_passes_offline():
    from inprocess import invoke

    result = invoke("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok") >= 3
    assert "note model explain uses: hf:HuggingFaceTB/SmolVLM2-500M-Video-Instruct" in " ".join(result.stdout.split())
