"""accuracy/: what the map is worth.

metrics          confusion matrix, coverage, OA over classified and over all reference pixels, AA, Kappa
area             area-adjusted accuracy and area estimates with the map classes as strata (Olofsson 2014)
assessment       one assessment (metrics + areas) and its HTML, CSV and JSON
sampling_design  a stratified random sample for validation (Cochran's n, a floor per class)
cli              `python -m engine accuracy`
"""
