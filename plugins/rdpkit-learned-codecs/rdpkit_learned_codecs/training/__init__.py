"""Training: random crops, the rate-distortion loop of the transform codecs, the adversarial loop of hific, and data-parallel processes."""
