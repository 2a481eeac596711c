"""LPIPS as rdpkit distortions: lpips-alex, lpips-vgg, lpips-squeeze."""
