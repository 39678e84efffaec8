"""PyTorch networks of BDGF (imported only where torch is needed)."""
