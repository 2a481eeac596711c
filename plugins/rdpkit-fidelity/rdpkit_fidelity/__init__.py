"""rdpkit-fidelity: Inception-v3 features (torch-fidelity's FID network) as the rdpkit feature extractor `inception-v3-fid`."""
