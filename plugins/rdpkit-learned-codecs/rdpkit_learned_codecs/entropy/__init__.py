"""Entropy coding: integer probability tables, the range coder, the entropy models (factorized prior, Gaussian conditional) and the integer hyper-synthesis that makes decoding portable."""
