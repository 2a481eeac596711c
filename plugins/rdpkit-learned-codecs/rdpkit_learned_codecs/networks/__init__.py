"""The networks: GDN, the analysis and synthesis transforms, the factorized/hyperprior model, the HiFiC generator and patch discriminator."""
