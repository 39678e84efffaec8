"""Accuracy outputs of bdgf:accuracy: accuracy.assessment computes and formats, this picks the files."""
from ..engine.accuracy.assessment import assess


def write_reports(reference, predicted, classes, grid, paths, title, notes=(), probability_sample=False):
    """Assess the map against the reference and write the requested files; returns the assessment."""
    assessment = assess(reference, predicted, classes, grid, probability_sample=probability_sample)
    if paths.get("OUTPUT_HTML"):
        assessment.write_html(paths["OUTPUT_HTML"], title=title, notes=notes)
    if paths.get("OUTPUT_CSV"):
        assessment.write_csv(paths["OUTPUT_CSV"])
    if paths.get("OUTPUT_JSON"):
        assessment.write_json(paths["OUTPUT_JSON"])
    return assessment
