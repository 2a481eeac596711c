"""Perception-index estimators: divergences d(p, q) from two sample sets, each with its uncertainty.

Every class states in `quantity` exactly what its value is (TV, KL in nats, W1, W2, W2^2, ...)
and in its docstring how it is biased.

``discrete``     plug-in TV and KL on symbols (or on quantised samples)
``knn``          the k-nearest-neighbour KL estimator of Wang, Kulkarni & Verdú (2009)
``onedim``       exact W1 and W2 between 1-D samples
``transport``    exact optimal transport (POT's network simplex)
``sliced``       sliced Wasserstein
``sinkhorn``     the debiased Sinkhorn divergence
``trained``      estimates from a trained network: WGAN-GP critic W1, classifier TV bound
``features``     Fréchet distance and MMD / KID on features from a registered extractor
"""
