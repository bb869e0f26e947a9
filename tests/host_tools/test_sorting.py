"""The sorting curve: coverage, contamination and recovery per threshold, hand-counted on a
small set, the recommended threshold, and the same lid as the firmware for every score."""
import numpy as np
import pytest

from host_tools.model import sorting
from host_tools.power import DEFAULT_CONFIG, read_config

LABELS = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]
# (true class, predicted class, top score)
ITEMS = [
    ("glass", "glass", 0.9),        # right lid while the threshold is at most 0.9
    ("metal", "glass", 0.8),        # wrong lid (per class), right with a shared containers lid
    ("trash", "plastic", 0.7),      # true trash in a recycling lid: always contamination
    ("paper", "paper", 0.6),
    ("trash", "trash", 0.95),       # trash goes to the general lid, whatever its score
    ("plastic", "plastic", 0.4),
    ("cardboard", "paper", 0.5),    # wrong per class, right with a shared paper lid
    ("glass", "trash", 0.99),       # a recyclable lost to the general lid
]


def _items():
    truth = np.array([LABELS.index(t) for t, _, _ in ITEMS])
    scores = np.zeros((len(ITEMS), len(LABELS)))
    for row, (_, predicted, top) in enumerate(ITEMS):
        scores[row] = (1 - top) / (len(LABELS) - 1)
        scores[row, LABELS.index(predicted)] = top
    return truth, scores


def _at(curve, threshold):
    return next(row for row in curve if row["threshold"] == threshold)


def test_sorting_curve_counts_coverage_contamination_and_recovery_by_hand():
    truth, scores = _items()
    curve = sorting.sorting_curve(truth, scores, sorting.LidTable(LABELS))
    assert len(curve) == 101 and curve[0]["threshold"] == 0.0 and curve[-1]["threshold"] == 1.0
    # six recyclables in the set (items 1, 2, 4, 6, 7, 8)
    expected = {  # threshold: (recycled, wrong, right)
        0.0: (6, 3, 3), 0.45: (5, 3, 2), 0.55: (4, 2, 2), 0.65: (3, 2, 1),
        0.75: (2, 1, 1), 0.8: (2, 1, 1), 0.81: (1, 0, 1), 0.9: (1, 0, 1), 0.91: (0, 0, 0),
    }
    for threshold, (recycled, wrong, right) in expected.items():
        row = _at(curve, threshold)
        assert row["recycled"] == recycled and row["wrong_lid"] == wrong, threshold
        assert row["coverage"] == pytest.approx(recycled / 8, abs=1e-4)
        assert row["recovered"] == pytest.approx(right / 6, abs=1e-4)
        if recycled:
            assert row["contamination"] == pytest.approx(wrong / recycled, abs=1e-4)
        else:
            assert row["contamination"] is None


def test_shared_lids_from_the_bin_config_forgive_classes_that_share_a_lid():
    truth, scores = _items()
    table = sorting.LidTable(LABELS, read_config(DEFAULT_CONFIG)[1])
    assert table.names == ["paper", "containers", "general"]
    row = sorting.point(truth, scores, 0.0, table)
    # metal-as-glass and cardboard-as-paper land in the right lid; only the trash is wrong
    assert (row["recycled"], row["wrong_lid"]) == (6, 1)


def test_recommended_threshold_is_the_lowest_that_meets_the_target():
    truth, scores = _items()
    curve = sorting.sorting_curve(truth, scores, sorting.LidTable(LABELS))
    chosen = sorting.recommend(curve, target=0.1, min_coverage=0.05, confidence=None)
    assert chosen["target_met"] and chosen["threshold"] == 0.81
    assert (chosen["coverage"], chosen["contamination"]) == (0.125, 0.0)
    assert "0.81" in chosen["statement"] and "10%" in chosen["statement"]
    lenient = sorting.recommend(curve, target=0.55, min_coverage=0.05, confidence=None)
    assert lenient["target_met"] and lenient["threshold"] == 0.0  # 3 wrong of 6


def test_without_enough_coverage_the_cleanest_threshold_is_named_and_the_target_missed():
    truth, scores = _items()
    curve = sorting.sorting_curve(truth, scores, sorting.LidTable(LABELS))
    chosen = sorting.recommend(curve, target=0.1, min_coverage=0.2, confidence=None)
    # every threshold sending at least 20% to recycling has 50% or more contamination
    assert not chosen["target_met"]
    assert (chosen["threshold"], chosen["contamination"]) == (0.0, 0.5)
    assert chosen["statement"].startswith("no threshold keeps contamination")
    nothing = sorting.recommend(curve, target=0.1, min_coverage=0.9)
    assert nothing["threshold"] is None and not nothing["target_met"]
    assert "cannot be judged" in nothing["statement"]


def test_the_wilson_bound_matches_hand_figures_and_tightens_with_more_items():
    # 5 wrong of 100 at 95%: p = 0.05, z = 1.6449 -> (0.05 + z^2/200 + z*sqrt(0.0475/100 +
    # z^2/40000)) / (1 + z^2/100) = (0.06353 + 0.03832) / 1.02706 = 0.0992
    assert sorting.contamination_bound(5, 100) == pytest.approx(0.0992, abs=5e-4)
    assert sorting.contamination_bound(50, 1000) == pytest.approx(0.0626, abs=5e-4)
    assert sorting.contamination_bound(0, 10) == pytest.approx(0.2129, abs=5e-4)
    assert sorting.contamination_bound(5, 100, confidence=None) == 0.05
    assert sorting.contamination_bound(0, 0) is None


def _curve_of(rows):
    """A curve from (threshold, recycled, wrong) rows over 1000 items."""
    return [{"threshold": t, "coverage": n / 1000, "contamination": w / n if n else None,
             "recovered": None, "recycled": n, "wrong_lid": w} for t, n, w in rows]


def test_a_lucky_dip_under_the_target_is_not_recommended_with_confidence():
    curve = _curve_of([(0.3, 600, 90), (0.4, 400, 38), (0.5, 300, 18), (0.6, 200, 10)])
    plain = sorting.recommend(curve, confidence=None)
    assert plain["threshold"] == 0.4  # 9.5% measured, but on 400 items that may be 12%
    sure = sorting.recommend(curve)
    assert sure["confidence"] == 0.95
    assert sure["threshold"] == 0.5 and sure["contamination"] == 0.06
    assert sure["contamination_bound"] == pytest.approx(
        sorting.contamination_bound(18, 300), abs=1e-4)
    assert "with 95% confidence" in sure["statement"] and "at most 8." in sure["statement"]
    nothing = sorting.recommend(_curve_of([(0.5, 100, 9), (0.6, 60, 5)]))
    # neither bound meets 10%; the lowest is named: 9 of 100 (14.8%) beats 5 of 60 (16.1%)
    assert not nothing["target_met"] and nothing["threshold"] == 0.5
    assert nothing["statement"].startswith("no threshold keeps contamination at or below "
                                           "10% with 95% confidence")


def test_host_lids_match_the_firmware_decider_for_every_int8_score():
    decide = sorting.firmware_decide()
    from smartbin import model_contract

    board = model_contract.ModelContract({
        "schema": 1, "labels": LABELS,
        "input": {"width": 2, "height": 2, "channels": 3, "colour_order": "RGB",
                  "dtype": "int8", "scale": 1.0, "zero_point": -128},
        "output": {"dtype": "int8", "scale": 1 / 256, "zero_point": -128},
        "arena_bytes": 1000})
    bin_config = read_config(DEFAULT_CONFIG)[1]
    for config in (None, bin_config):
        table = sorting.LidTable(LABELS, config)
        lid_config = config or sorting.one_lid_per_class(LABELS)
        for threshold in (0.0, 0.25, 0.5, 0.6, 0.66, 0.87, 1.0):
            decider = decide.Decider(lid_config, LABELS, board.score_at_least(threshold))
            for label in range(len(LABELS)):
                int8_scores = np.arange(-128, 128)
                host = table.lids_for(np.full(256, label), board.confidence(int8_scores),
                                      threshold)
                board_lids = [decider.lid_for(label, int(s)) for s in int8_scores]
                assert host.tolist() == board_lids, (threshold, label)


def test_an_empty_set_has_no_curve():
    from host_tools.errors import SmartbinError

    with pytest.raises(SmartbinError, match="no items"):
        sorting.sorting_curve(np.array([], int), np.zeros((0, 6)), sorting.LidTable(LABELS))


def _contract(class_to_lid, threshold=0.55):
    labels = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]
    return {"labels": labels, "sorting": {"threshold": threshold, "class_to_lid": class_to_lid}}


def test_a_bin_that_keeps_apart_classes_the_threshold_was_fitted_as_sharing_a_lid_is_warned():
    labels = _contract({})["labels"]
    config = read_config(DEFAULT_CONFIG)[1]
    shipped = sorting.LidTable(labels, config).class_to_lid_names(labels)
    strict = sorting.LidTable(labels, sorting.one_lid_per_class(labels)).class_to_lid_names(
        labels)
    assert sorting.lids_differ(_contract(shipped), config) is None
    # the same grouping under other lid names is the same bin
    renamed = {label: "lid-" + lid for label, lid in shipped.items()}
    assert sorting.lids_differ(_contract(renamed), config) is None
    # fitted with a lid per class, the shipped bin only shares more: safe, no warning
    assert sorting.lids_differ(_contract(strict), config) is None
    # fitted for the shipped lids, a bin with a lid per class keeps glass, metal and
    # plastic apart: warned
    one_each = sorting.one_lid_per_class(labels)
    one_each.threshold = None
    warning = sorting.lids_differ(_contract(shipped), one_each)
    assert "0.55" in warning and "glass+metal+plastic" in warning and "\n" not in warning
    # a config with its own threshold does not use model.json's
    one_each.threshold = 0.9
    assert sorting.lids_differ(_contract(shipped), one_each) is None
