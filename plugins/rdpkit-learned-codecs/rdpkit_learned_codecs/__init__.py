"""rdpkit-learned-codecs: the transform codecs of Ballé et al. (ICLR 2017, 2018) and Minnen et al. (NeurIPS 2018), and HiFiC.

Registered as the rdpkit codecs ``factorized``, ``hyperprior`` and ``hific`` (and
``compressai-model``, the adapter for any model with CompressAI's compress/decompress
protocol). Sub-packages by concern: `entropy` (tables, range coding, entropy models, the
integer hyper-synthesis), `networks`, `models` (configurations, files, the zoo of shipped
models), `training` and `codecs`. This package imports nothing heavy, so `rdpkit list`
stays fast.
"""
