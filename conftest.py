"""Settings for every test under this repository, the plugins' included."""

import torch

# `make test` runs two pytest workers on a 2-core machine; one torch thread each avoids the
# oversubscription that makes small-network training 10-60 times slower.
torch.set_num_threads(1)
