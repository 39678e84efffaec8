"""Sampling design (accuracy/sampling_design.py): Cochran's sample size, allocation with a floor per class,
and seeded stratified random points drawn from a real GeoTIFF."""
import numpy as np
import pytest
from osgeo import gdal, osr

from engine.accuracy import sampling_design
from engine.accuracy.sampling_design import (
    SamplingDesignError,
    allocate,
    cochran_sample_size,
    count_classes,
    design_sample,
    draw_sample,
    parse_class_accuracies,
)


def test_cochran_sample_size_by_hand():
    """Olofsson et al. (2014) eq. 13, n = (Σ W_i S_i / S(Ô))², S_i = √(U_i(1 − U_i)).
    W = 0.02, 0.015, 0.32, 0.645; U = 0.70, 0.60, 0.90, 0.95; S(Ô) = 0.01:
    Σ W_i S_i = 0.02·√0.21 + 0.015·√0.24 + 0.32·√0.09 + 0.645·√0.0475
              = 0.0091652 + 0.0073485 + 0.0960000 + 0.1405737 = 0.2530874;
    n = (0.2530874 / 0.01)² = 640.53 → 641.
    Two equal classes with U = 0.8 (S = 0.4) and S(Ô) = 0.02: n = (0.4 / 0.02)² = 400 exactly."""
    assert cochran_sample_size([0.02, 0.015, 0.32, 0.645], [0.70, 0.60, 0.90, 0.95], 0.01) == 641
    assert cochran_sample_size([0.5, 0.5], [0.8, 0.8], 0.02) == 400
    assert cochran_sample_size([0.5, 0.5], [1.0, 1.0], 0.02) == 0  # perfect classes: nothing to learn
    with pytest.raises(SamplingDesignError, match="between 0 and 0.5"):
        cochran_sample_size([1.0], [0.8], 0)
    with pytest.raises(SamplingDesignError, match=r"in \(0, 1\]"):
        cochran_sample_size([1.0], [1.2], 0.01)


def test_allocation_with_a_floor_per_class_by_hand():
    """641 points, floor 75: the two rare classes (641·0.02 = 12.8, 641·0.015 = 9.6) get 75 each; the other
    641 − 150 = 491 go in proportion to 0.32 : 0.645 → 491·0.32/0.965 = 162.82 and 491·0.645/0.965 = 328.18,
    rounded by largest remainder to 163 + 328 = 491."""
    assert allocate(641, [0.02, 0.015, 0.32, 0.645], 75, [200_000, 150_000, 3_200_000, 6_450_000]) == [
        75, 75, 163, 328]
    # floors adding up to more than n: every class gets its floor
    assert allocate(10, [0.5, 0.3, 0.2], 5, [100, 100, 100]) == [5, 5, 5]
    # a class smaller than the floor gives all its pixels; the rest goes to the others
    assert allocate(100, [0.9, 0.1], 50, [1000, 20]) == [80, 20]
    # no floor: proportional, largest remainders (33.3, 33.3, 33.3 → 34, 33, 33)
    assert allocate(100, [1 / 3, 1 / 3, 1 / 3], 0, [1000, 1000, 1000]) == [34, 33, 33]
    with pytest.raises(SamplingDesignError, match=">= 0"):
        allocate(10, [1.0], -1, [5])


def test_design_sample_and_class_accuracies():
    design = design_sample({1: 200_000, 2: 150_000, 3: 3_200_000, 4: 6_450_000, 5: 0},
                           {1: "Deforestation"}, {1: 0.7, 2: 0.6, 3: 0.9, 4: 0.95, 5: 0.5}, 0.01, 75)
    assert [s.value for s in design.strata] == [1, 2, 3, 4]  # no pixels, no stratum
    assert [s.sample_size for s in design.strata] == [75, 75, 163, 328]
    assert design.cochran_n == 641 and design.total == 641
    assert design.strata[0].name == "Deforestation" and design.strata[1].name == "2"
    assert design.strata[2].std == pytest.approx(0.3)
    # eq. 13 is the n of an optimal (Neyman) allocation: the floors for rare classes cost precision
    assert 0.01 < design.expected_se < 0.011
    # two equal classes, U = 0.8, S(Ô) = 0.02: 200 + 200 points, SE = √(2·0.5²·0.16/200) = √0.0004 = 0.02
    even = design_sample({1: 1000, 2: 1000}, {}, {1: 0.8, 2: 0.8}, 0.02, 0)
    assert [s.sample_size for s in even.strata] == [200, 200]
    assert even.expected_se == pytest.approx(0.02, rel=1e-12)
    assert design.to_dict()["strata"][0]["sample_size"] == 75
    assert "| Deforestation | 1 | 200000 | 0.0200 | 0.7 | 75 |" in design.to_markdown()
    assert parse_class_accuracies(" 3=0.7; 5 = 0.6,") == {3: 0.7, 5: 0.6}
    with pytest.raises(SamplingDesignError, match="'3:0.7' is not 'class value=accuracy'"):
        parse_class_accuracies("3:0.7")
    with pytest.raises(SamplingDesignError, match="no classified pixel"):
        design_sample({1: 0}, {}, {1: 0.8}, 0.01, 50)


@pytest.fixture()
def class_raster(tmp_path):
    """60 x 40 px UTM raster: class 1 on the left half, 2 on the right, a 10 x 10 block of 5, nodata 0
    in the first three rows."""
    data = np.ones((40, 60), np.uint8)
    data[:, 30:] = 2
    data[20:30, 5:15] = 5
    data[:3] = 0
    path = str(tmp_path / "map.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 60, 40, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((500_000, 10, 0, 5_000_000, 0, -10))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(data)
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds = None
    return path, data


def test_draw_sample_is_stratified_seeded_and_streamed(class_raster, monkeypatch):
    path, data = class_raster
    counts = count_classes(path)
    assert counts == {1: 30 * 37 - 100, 2: 30 * 37, 5: 100}
    design = design_sample(counts, {}, {v: 0.8 for v in counts}, 0.05, 20)
    points = draw_sample(path, design, seed=7)
    drawn = {v: sum(p.value == v for p in points) for v in counts}
    assert drawn == {s.value: s.sample_size for s in design.strata} and drawn[5] == 20
    assert len({(p.row, p.col) for p in points}) == len(points)  # without replacement
    for p in points:
        assert data[p.row, p.col] == p.value != 0  # inside its class, never on nodata
        assert (p.x, p.y) == (500_000 + 10 * p.col + 5, 5_000_000 - 10 * p.row - 5)  # pixel centre
    assert draw_sample(path, design, seed=7) == points
    assert draw_sample(path, design, seed=8) != points
    # the same points when the raster is read in many small strips
    monkeypatch.setattr(sampling_design, "BLOCK_PIXELS", 120)
    assert draw_sample(path, design, seed=7) == points
    assert count_classes(path) == counts
