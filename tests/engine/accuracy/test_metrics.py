"""Accuracy metrics against hand-computed confusion matrices."""
import json
import math
from html.parser import HTMLParser

import numpy as np
import pytest

from engine.accuracy.metrics import ConfusionMatrix, compute_metrics, confusion_matrix, html_report

# rows = reference, columns = predicted, classes (1, 2, 3)
MATRIX = np.array([[50, 3, 2],
                   [5, 40, 5],
                   [0, 2, 43]])
VALUES = [1, 2, 3]


def pixels_from(matrix, values):
    ref, pred = [], []
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ref += [values[i]] * int(count)
            pred += [values[j]] * int(count)
    return np.array(ref), np.array(pred)


def test_confusion_matrix_from_pixels_ignores_label_0():
    ref, pred = pixels_from(MATRIX, VALUES)
    rng = np.random.default_rng(1)
    order = rng.permutation(ref.size)
    ref, pred = ref[order], pred[order]
    ref = np.concatenate([ref, [0, 0, 0, 2, 9]]).reshape(-1, 5)  # 2-D input works too
    pred = np.concatenate([pred, [1, 0, 3, 0, 1]]).reshape(-1, 5)
    cm = ConfusionMatrix(VALUES).update(ref, pred)
    np.testing.assert_array_equal(cm.matrix, MATRIX)
    assert cm.unclassified == 1  # reference 2, predicted 0 (nodata)
    assert cm.ignored == 1  # reference 9 is not a class
    np.testing.assert_array_equal(confusion_matrix(ref, pred, VALUES), MATRIX)
    m = cm.metrics()
    # 150 classified + 1 unclassified reference pixels; 133 correct
    assert (m.n, m.n_reference, m.ignored_values) == (150, 151, {9: 1})
    assert m.coverage == pytest.approx(150 / 151)
    assert m.oa_classified == m.oa == pytest.approx(133 / 150)
    assert m.oa_all_reference == pytest.approx(133 / 151)


def test_coverage_and_both_oas_are_named_everywhere():
    # 10 reference pixels of class 1: 6 right, 1 wrong, 3 unclassified; 5 of class 2, all right
    ref = np.array([1] * 10 + [2] * 5 + [7, 7, 30])
    pred = np.array([1] * 6 + [2] + [0] * 3 + [2] * 5 + [1, 0, 2])
    m = ConfusionMatrix([1, 2]).update(ref, pred).metrics()
    assert (m.n, m.unclassified, m.n_reference) == (12, 3, 15)
    assert (m.coverage, m.oa, m.oa_all_reference) == (pytest.approx(12 / 15), pytest.approx(11 / 12),
                                                      pytest.approx(11 / 15))
    assert m.ignored == 3 and m.ignored_values == {7: 2, 30: 1}
    assert m.ignored_sentence() == ("3 reference pixels ignored, their value is not in the class table: "
                                    "value 7 (2 px), value 30 (1 px).")
    d = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert (d["oa"], d["oa_classified"]) == (pytest.approx(11 / 12), pytest.approx(11 / 12))
    assert (d["oa_all_reference"], d["coverage"], d["n_reference"]) == (
        pytest.approx(11 / 15), pytest.approx(0.8), 15)
    assert d["ignored_values"] == [{"value": 7, "pixels": 2}, {"value": 30, "pixels": 1}]
    sentence = ("Coverage 80.00 % (12 of 15 reference pixels classified, 3 unclassified); OA over classified "
                "reference pixels 91.67 %; OA over all reference pixels (unclassified = wrong) 73.33 %.")
    assert m.coverage_sentence() == sentence
    md = m.to_markdown()
    assert sentence in md and "value 7 (2 px), value 30 (1 px)" in md
    page = html_report(m, ["a", "b"], ["#000000", "#ffffff"])
    assert "<b>Coverage 80.00 %</b>" in page and "<b>OA over all reference pixels 73.33 %</b>" in page
    assert "value 7 (2 px), value 30 (1 px)" in page
    assert "3 reference pixels the map left unclassified (nodata) as wrong" in page


def test_accumulates_over_windows_and_respects_value_order():
    ref, pred = pixels_from(MATRIX, VALUES)
    cm = ConfusionMatrix([3, 1, 2])
    half = ref.size // 2
    cm.update(ref[:half], pred[:half]).update(ref[half:], pred[half:])
    np.testing.assert_array_equal(cm.matrix, MATRIX[[2, 0, 1]][:, [2, 0, 1]])


def test_hand_computed_metrics():
    m = compute_metrics(MATRIX, VALUES)
    assert m.n == 150
    assert m.oa == pytest.approx(133 / 150)
    # pe = (55*55 + 50*45 + 45*50) / 150^2 ; kappa = (po - pe) / (1 - pe) = 12425 / 14975
    assert m.kappa == pytest.approx(12425 / 14975)
    np.testing.assert_allclose(m.producers, [50 / 55, 40 / 50, 43 / 45])
    np.testing.assert_allclose(m.users, [50 / 55, 40 / 45, 43 / 50])
    np.testing.assert_allclose(m.f1, [100 / 110, 80 / 95, 86 / 95])
    assert m.aa == pytest.approx((50 / 55 + 40 / 50 + 43 / 45) / 3)
    np.testing.assert_array_equal(m.support, [55, 50, 45])


def test_two_class_kappa():
    m = compute_metrics(np.array([[45, 5], [15, 35]]), [1, 2])
    assert m.oa == pytest.approx(0.8)
    assert m.kappa == pytest.approx(0.6)  # pe = (50*60 + 50*40) / 100^2 = 0.5
    f1_1 = 2 * (45 / 60) * (45 / 50) / (45 / 60 + 45 / 50)
    assert m.f1[0] == pytest.approx(f1_1)


def test_empty_classes():
    # class 3: never in reference nor predicted; class 4: predicted but absent from the reference
    matrix = np.array([[10, 0, 0, 2],
                       [0, 8, 0, 0],
                       [0, 0, 0, 0],
                       [0, 0, 0, 0]])
    m = compute_metrics(matrix, [1, 2, 3, 4])
    assert math.isnan(m.producers[2]) and math.isnan(m.users[2]) and math.isnan(m.f1[2])
    assert math.isnan(m.producers[3]) and m.users[3] == 0 and m.f1[3] == 0
    assert m.aa == pytest.approx((10 / 12 + 1) / 2)  # mean over classes with reference pixels
    d = m.to_dict(["a", "b", "c", "d"])
    assert d["classes"][2]["producers_accuracy"] is None and d["classes"][3]["f1"] == 0
    json.dumps(d, allow_nan=False)


def test_degenerate_cases():
    perfect_single = compute_metrics(np.array([[7, 0], [0, 0]]), [1, 2])
    assert perfect_single.oa == 1 and perfect_single.kappa == 1
    empty = compute_metrics(np.zeros((2, 2), int), [1, 2])
    assert math.isnan(empty.oa) and math.isnan(empty.aa) and math.isnan(empty.kappa)
    assert empty.to_dict()["oa"] is None
    with pytest.raises(ValueError, match="distinct and non-zero"):
        ConfusionMatrix([1, 1])
    with pytest.raises(ValueError, match="does not match"):
        compute_metrics(np.zeros((2, 2)), [1, 2, 3])


def test_to_dict_and_markdown():
    m = ConfusionMatrix(VALUES).update(*pixels_from(MATRIX, VALUES)).metrics()
    d = json.loads(json.dumps(m.to_dict(["Forest", "Water", "Urban"]), allow_nan=False))
    assert d["oa"] == pytest.approx(133 / 150) and d["confusion_matrix"] == MATRIX.tolist()
    assert d["classes"][1] == {"value": 2, "name": "Water", "support": 50, "producers_accuracy": 0.8,
                               "users_accuracy": pytest.approx(40 / 45), "f1": pytest.approx(80 / 95)}
    md = m.to_markdown(["Forest", "Water", "Ur|ban"])
    assert "OA 88.67 %" in md and "Kappa 0.8297" in md
    assert "| Water | 2 | 50 | 80.00 % | 88.89 % | 0.8421 |" in md
    assert "| Forest | 50 | 3 | 2 | 55 |" in md
    assert "| total | 55 | 45 | 50 | 150 |" in md
    assert "Ur\\|ban" in md


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.cells, self.external = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag in ("link", "script", "img") or "src" in attrs or "href" in attrs:
            self.external.append((tag, attrs))

    def handle_data(self, data):
        self.cells.append(data)


def test_html_report():
    m = compute_metrics(MATRIX, VALUES)
    page = html_report(m, ["Forest", "Water <deep>", "Urban"], ["#1b7837", "#2166ac", "#b2182b"],
                       title="Test & check", notes=["model sha256:abc"])
    assert page.startswith("<!DOCTYPE html>")
    parser = _Collector()
    parser.feed(page)
    assert parser.external == []
    assert parser.tags.count("table") == 2
    assert "Water <deep>" in parser.cells and "Test & check" in parser.cells
    assert "Water &lt;deep&gt;" in page
    assert "<b>OA over classified reference pixels 88.67 %</b>" in page and "Kappa 0.8297" in page
    assert "background:#1b7837" in page  # class swatch
    assert "model sha256:abc" in page
    # diagonal cells are green-ish, the largest confusion red-ish
    assert 'title="90.9 % of the row">50</td>' in page
    assert 'style="background:#ffffff;color:#222222" title="0.0 % of the row">0</td>' in page
