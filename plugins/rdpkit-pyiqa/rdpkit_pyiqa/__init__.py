"""Every pyiqa metric as an rdpkit distortion (full-reference) or critic (no-reference)."""
