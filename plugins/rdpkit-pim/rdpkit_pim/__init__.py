"""PIM, an unsupervised information-theoretic perceptual metric, as an rdpkit plugin (`rdpkit.distortion("pim")`)."""
