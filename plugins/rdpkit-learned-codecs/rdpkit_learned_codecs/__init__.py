"""rdpkit-learned-codecs: the transform codecs of Ballé et al. (ICLR 2017, 2018) and Minnen et al. (NeurIPS 2018).

Registered as the rdpkit codecs ``factorized`` and ``hyperprior`` (and ``compressai-model``,
the adapter for any model with CompressAI's compress/decompress protocol). This package
imports nothing heavy, so `rdpkit list` stays fast.
"""
