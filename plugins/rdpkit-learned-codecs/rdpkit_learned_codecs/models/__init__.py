"""Model files: configurations, safetensors storage and records, the zoo of shipped models, CompressAI checkpoints, and the starts of hific training."""
