"""The registered codecs: the transform codecs (factorized, hyperprior) and hific, both coding ŷ with one `LatentCoder`, and the CompressAI protocol adapter."""
