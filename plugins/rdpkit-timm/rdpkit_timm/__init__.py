"""A deep-feature (perceptual-loss) distortion on any timm backbone."""
