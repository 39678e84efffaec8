"""PyTorch networks of BDGF (imported only where torch is needed; `engine` itself never imports it).

config.BDGFConfig · ddpm.MultimodalDDPM / DiffusionFeatureExtractor · bdgf.BDGFClassifier ·
losses.mutual_learning_loss · masking.ModalityMasking · mamba.MambaBlock · scan.selective_scan ·
export.export_features / export_classifier. See docs/ARCHITECTURE.md and docs/METHOD_DECISIONS.md.
"""
