"""BDGF inference engine (no QGIS). Importing it never imports torch or onnxruntime."""
__version__ = "0.1.0"
