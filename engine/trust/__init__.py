"""trust/: what the map says about itself.

uncertainty   normalised entropy, branch disagreement and agreement (numpy)
contribution  each modality's contribution to the mapped class, the dominant modality
suggest       where to label next: the most uncertain pixels per class, spaced, as a GeoPackage
cli           `python -m engine suggest`
"""
