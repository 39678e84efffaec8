"""classify/: one scene to a map.

run         classify(inputs, package, outputs, settings) -> ClassifyResult; windows for batch blocks
inputs      which layer feeds which modality of the card; band subsets, nodata and scale per layer
preflight   before any work: outputs against inputs and folders, free space, input values against the card
writers     every output of one run written tile by tile, all renamed together at the end
cli         `python -m engine classify`
"""
