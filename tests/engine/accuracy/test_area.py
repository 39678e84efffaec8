"""Area-adjusted accuracy and area estimates (engine/accuracy/area.py) against a published worked example
and a two-class example computed by hand."""
import json
import math

import numpy as np
import pytest

from engine.accuracy.area import (
    SAMPLING_INDICATIVE,
    SAMPLING_STRATIFIED,
    area_accuracy,
    class_pixel_counts,
    html_section,
    to_markdown,
)

# Olofsson et al. (2014), section 5 / Table 8: sample counts with rows = MAP class, columns = REFERENCE
# class, in the order deforestation, forest gain, stable forest, stable non-forest.
OLOFSSON_MAP_BY_REFERENCE = np.array([[66, 0, 5, 4],
                                      [0, 55, 8, 12],
                                      [1, 0, 153, 11],
                                      [2, 1, 9, 313]])
OLOFSSON_MAPPED_PIXELS = [200_000, 150_000, 3_200_000, 6_450_000]  # 30 m pixels
PIXEL_30M = 900.0  # m²


def test_reproduces_the_published_worked_example_of_olofsson_et_al_2014():
    """Olofsson, Foody, Herold, Stehman, Woodcock, Wulder (2014), Good practices for estimating area and
    assessing accuracy of land change, Remote Sensing of Environment 148: 42–57, section 5 (Table 8):
    four map classes (deforestation, forest gain, stable forest, stable non-forest), mapped areas of
    200,000 / 150,000 / 3,200,000 / 6,450,000 pixels of 30 m, and the sample counts above (75 / 75 /
    165 / 325 sample pixels in the four map strata).

    Published figures checked here, at the published rounding:
    - estimated areas with their 95 % confidence intervals: deforestation 21,158 ± 6,158 ha, forest gain
      11,686 ± 3,756 ha, stable forest 285,770 ± 15,510 ha, stable non-forest 581,386 ± 16,282 ha;
    - overall accuracy 0.95 ± 0.02;
    - producer's accuracies 0.75, 0.85, 0.93, 0.96.
    User's accuracies are checked against the counts themselves (66/75 = 0.88, 55/75 = 0.73,
    153/165 = 0.93, 313/325 = 0.96) and their 95 % half-widths by hand, 1.96 √(U(1 − U)/(n − 1)):
    1.96 √(0.88·0.12/74) = 0.074, 1.96 √((11/15)(4/15)/74) = 0.101, 1.96 √((153/165)(12/165)/164) = 0.040,
    1.96 √((313/325)(12/325)/324) = 0.021.
    The same sample counts and mapped areas are the worked example of the R package mapaccuracy
    (`olofsson()` help page, "Example of table 8 in Olofsson et al. (2014)"), which compares its
    output with the paper's p. 54.
    """
    # engine convention: rows = reference, columns = map
    result = area_accuracy(OLOFSSON_MAP_BY_REFERENCE.T, OLOFSSON_MAPPED_PIXELS, [1, 2, 3, 4],
                           probability_sample=True, pixel_area_m2=PIXEL_30M)
    published_ha = [(21_158, 6_158), (11_686, 3_756), (285_770, 15_510), (581_386, 16_282)]
    for cls, (area, half_width) in zip(result.classes, published_ha):
        assert round(cls.area_ha.value) == area
        assert round(cls.area_ha.half_width) == half_width
    assert round(result.overall.value, 2) == 0.95 and round(result.overall.half_width, 2) == 0.02
    assert [round(c.producers.value, 2) for c in result.classes] == [0.75, 0.85, 0.93, 0.96]
    assert [round(c.users.value, 2) for c in result.classes] == [0.88, 0.73, 0.93, 0.96]
    assert [round(c.users.half_width, 3) for c in result.classes] == [0.074, 0.101, 0.040, 0.021]
    # the area proportions are those of the map, redistributed: they sum to 1, their columns to W_i
    assert result.proportions.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(result.proportions.sum(axis=0), np.array(OLOFSSON_MAPPED_PIXELS) / 1e7)
    assert [c.sample_pixels for c in result.classes] == [75, 75, 165, 325]
    assert result.sampling == SAMPLING_STRATIFIED


def test_two_class_example_computed_by_hand():
    """Map: class A 300 px, class B 700 px (N = 1000, W_A = 0.3, W_B = 0.7). Sample: 10 pixels in map A
    (8 reference A, 2 reference B), 20 in map B (2 reference A, 18 reference B).

    p̂_AA = 0.3·8/10 = 0.24, p̂(map A, ref B) = 0.3·2/10 = 0.06, p̂(map B, ref A) = 0.7·2/20 = 0.07,
    p̂_BB = 0.7·18/20 = 0.63.  OA = 0.24 + 0.63 = 0.87.  Area A = 1000·(0.24 + 0.07) = 310 px, area B = 690 px.
    UA_A = 8/10 = 0.8, UA_B = 18/20 = 0.9;  PA_A = 0.24/0.31 = 24/31, PA_B = 0.63/0.69 = 21/23.
    V(OA) = 0.3²·0.8·0.2/9 + 0.7²·0.9·0.1/19 = 0.0016 + 0.0441/19 = 745/190000 = 149/38000.
    V(p̂_.A) = 0.3²·(8/10)(2/10)/9 + 0.7²·(2/20)(18/20)/19 = the same 149/38000 (two classes);
    SE(area A) = 1000·√(149/38000) px, and SE(area B) is the same.
    V(UA_A) = 0.8·0.2/9 = 0.16/9 → SE 0.4/3;  V(UA_B) = 0.9·0.1/19 = 0.09/19.
    V(PA_A) (eq. 7), N̂_.A = 300·8/10 + 700·2/20 = 310:
      [300²·(7/31)²·0.8·0.2/9 + (24/31)²·700²·0.1·0.9/19] / 310²
      = [78400/961 + 25401600/18259] / 96100 = (26891200/18259) / 96100 = 268912/17546899.
    """
    reference_by_map = np.array([[8, 2],
                                 [2, 18]])  # rows = reference A, B; columns = map A, B
    result = area_accuracy(reference_by_map, [300, 700], [1, 2], probability_sample=False)
    a, b = result.classes
    exact = pytest.approx
    np.testing.assert_allclose(result.proportions, [[0.24, 0.07], [0.06, 0.63]], rtol=1e-12)
    assert result.overall.value == exact(0.87, rel=1e-12)
    assert result.overall.se == exact(math.sqrt(149 / 38000), rel=1e-12)
    assert (a.area_pixels.value, b.area_pixels.value) == (exact(310, rel=1e-12), exact(690, rel=1e-12))
    assert a.area_pixels.se == exact(1000 * math.sqrt(149 / 38000), rel=1e-12)
    assert b.area_pixels.se == exact(1000 * math.sqrt(149 / 38000), rel=1e-12)
    assert a.area_pixels.half_width == exact(1.96 * 1000 * math.sqrt(149 / 38000), rel=1e-12)
    assert (a.users.value, b.users.value) == (exact(0.8, rel=1e-12), exact(0.9, rel=1e-12))
    assert (a.users.se, b.users.se) == (exact(0.4 / 3, rel=1e-12), exact(math.sqrt(0.09 / 19), rel=1e-12))
    assert (a.producers.value, b.producers.value) == (exact(24 / 31, rel=1e-12), exact(21 / 23, rel=1e-12))
    assert a.producers.se == exact(math.sqrt(268912 / 17546899), rel=1e-12)
    assert (a.weight, b.weight, a.sample_pixels, b.sample_pixels) == (0.3, 0.7, 10, 20)
    assert a.area_ha is None  # no pixel area given
    assert result.sampling == SAMPLING_INDICATIVE and "NOT a probability sample" in result.assumption


def test_undefined_strata_are_reported_not_hidden():
    # map class 2 has 500 pixels but no reference pixel; class 3 has one only; class 4 is not mapped
    reference_by_map = np.array([[5, 0, 0, 0],
                                 [1, 0, 0, 0],
                                 [0, 0, 1, 0],
                                 [0, 0, 0, 0]])
    result = area_accuracy(reference_by_map, [100, 500, 50, 0], [1, 2, 3, 4], probability_sample=True)
    assert math.isnan(result.overall.value) and math.isnan(result.classes[1].area_pixels.value)
    assert any("2 have no reference pixel" in note for note in result.notes)
    assert any("3 have one reference pixel only" in note for note in result.notes)
    assert math.isnan(result.classes[2].users.se) and result.classes[2].users.value == 1
    # the unsampled stratum could hold any class: no class area is defined
    assert all(math.isnan(c.area_pixels.value) for c in result.classes)
    # once every mapped class is sampled, a class the map never shows still gets an area (here 0)
    reference_by_map[1, 1] = 3
    sampled = area_accuracy(reference_by_map, [100, 500, 50, 0], [1, 2, 3, 4], probability_sample=True)
    assert sampled.classes[3].weight == 0 and sampled.classes[3].area_pixels.value == 0
    assert sampled.classes[1].area_pixels.value == pytest.approx(500 + 100 / 6)  # 1 of 6 in map 1 is 2
    assert sampled.classes[0].area_pixels.value == pytest.approx(100 * 5 / 6)
    d = json.loads(json.dumps(result.to_dict(["a", "b", "c", "d"]), allow_nan=False))
    assert d["overall_accuracy"]["estimate"] is None and d["notes"] == result.notes
    with pytest.raises(ValueError, match="does not match"):
        area_accuracy(np.zeros((2, 2)), [1, 2, 3], [1, 2, 3], probability_sample=True)


def test_to_dict_markdown_and_html_name_the_sampling_and_the_intervals():
    result = area_accuracy(OLOFSSON_MAP_BY_REFERENCE.T, OLOFSSON_MAPPED_PIXELS, [1, 2, 3, 4],
                           probability_sample=True, pixel_area_m2=PIXEL_30M, area_note="30 m pixels")
    names = ["Deforestation", "Forest gain", "Stable forest", "Stable non-forest"]
    d = json.loads(json.dumps(result.to_dict(names), allow_nan=False))
    assert d["sampling"] == "stratified random sample" and d["probability_sample"] is True
    assert d["z"] == 1.96 and d["mapped_pixels_total"] == 10_000_000
    deforestation = d["classes"][0]
    assert deforestation["name"] == "Deforestation" and deforestation["sample_pixels"] == 75
    assert set(deforestation["area_ha"]) == {"estimate", "se", "ci95_half_width", "ci95_low", "ci95_high"}
    assert deforestation["area_ha"]["ci95_low"] == pytest.approx(
        deforestation["area_ha"]["estimate"] - 1.96 * deforestation["area_ha"]["se"])
    assert d["error_matrix_area_proportions"][0][0] == pytest.approx(0.02 * 66 / 75)
    md = to_markdown(result, names)
    assert "| Deforestation | 200000 | 75 | 235,086 ± 68,418 | 21,157.76 ± 6,157.63 |" in md
    page = html_section(result, names)
    assert "Area-adjusted accuracy and area estimates (stratified random sample)" in page
    assert "21,157.76 ± 6,157.63" in page and "Error matrix in area proportions" in page


def test_class_pixel_counts():
    class_map = np.array([[1, 1, 0], [3, 1, 9]])
    assert class_pixel_counts(class_map, [1, 2, 3]) == [3, 0, 1]


