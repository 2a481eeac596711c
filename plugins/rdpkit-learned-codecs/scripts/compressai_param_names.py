"""Write CompressAI's parameter names and shapes for the architectures rdpkit-learned-codecs loads.

The mapping tests (tests/test_compressai.py) check rdpkit's name mapping against this list,
generated from CompressAI's own model definitions and committed as data, so rdpkit never
depends on CompressAI (its 1.2.8 wheel pins numpy < 2, which the rest of rdpkit's stack
cannot live with). Run it once in a throwaway environment:

    python3 -m venv /tmp/cai
    /tmp/cai/bin/pip install compressai torch torchvision
    /tmp/cai/bin/python plugins/rdpkit-learned-codecs/scripts/compressai_param_names.py \
        > plugins/rdpkit-learned-codecs/rdpkit_learned_codecs/data/compressai_params.json

For every quality of bmshj2018-factorized, bmshj2018-hyperprior and mbt2018-mean (MSE), it
builds the untrained model as CompressAI's zoo does, calls `update(force=True)` as the zoo's
checkpoints were saved after, and records each state-dict entry's name and shape, the zoo's
file name for that quality, and CompressAI's version. The shapes of the CDF buffers
(`_quantized_cdf`, `_cdf_length`, `_offset`) depend on the trained weights, so they are
recorded as `null`; no weights are downloaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import PurePosixPath

ARCHITECTURES = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean")
DATA_DEPENDENT = ("_quantized_cdf", "_cdf_length", "_offset")


def main() -> None:
    import compressai
    from compressai.zoo import image

    out: dict = {"compressai": compressai.__version__, "metric": "mse", "architectures": {}}
    for arch in ARCHITECTURES:
        qualities = {}
        for quality in sorted(image.model_urls[arch]["mse"]):
            n, m = image.cfgs[arch][quality]
            net = image.model_architectures[arch](n, m)
            net.update(force=True)
            names = {k: (None if k.endswith(DATA_DEPENDENT) else list(v.shape)) for k, v in net.state_dict().items()}
            url = image.model_urls[arch]["mse"][quality]
            qualities[str(quality)] = {"N": n, "M": m, "file": PurePosixPath(url).name, "state_dict": names}
        out["architectures"][arch] = qualities
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
