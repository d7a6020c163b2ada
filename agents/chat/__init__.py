"""Chat-style Q&A over a video, grounded in its VideoReport."""
