"""model/: what a .bdgf holds and how it runs (no GDAL at module level).

card            the model card (schema, builder, validation, text form, supported outputs)
package         the .bdgf zip: written atomically, opened, hashed and checked once
onnx_shapes     an ONNX graph's declared input and output shapes, read from its bytes
backends        ONNX Runtime and PyTorch: features, dense tables, probabilities; the device really used
tiling          tiles with a halo, position-keyed tile noise, default sizes per device
pixel_probs     one tile's class probabilities from its inputs and features (dense in strips, or patchwise)
missing_modality  running without an auxiliary layer, when the card gives its accuracy
environment     the environment report: packages, the provider a test session used, install commands
cli             `python -m engine info`
"""
