"""Where the bin puts each item at each confidence threshold, and how clean its recycling
lids stay: the sorting curve, and the lowest threshold that meets a target contamination.

The rule is the firmware's own (`smartbin.decide`): the top class's lid when its score
reaches the threshold; the general-waste lid below it, for 'trash' and for a class with no
lid. Without a bin config every recycling class has a lid of its own, the strictest
reading: any other class in a lid, true trash included, is contamination. With a bin
config (config.json) classes share lids as that bin maps them.

coverage: the share of all items that reach a recycling lid.
contamination: the share of recycling-lid items whose true class belongs in another lid.
recovered: the share of truly recyclable items that reach their own lid.

The recommended threshold keeps contamination at or below the target *with confidence*:
the one-sided Wilson upper bound of the measured share (95% by default) must meet it. The
lowest threshold whose measured share dips under the target is, on a few hundred photos,
often a lucky dip, and a bin's users live with what it puts in their lids.
"""
import statistics
import sys
from types import SimpleNamespace

import numpy as np

from host_tools.errors import SmartbinError
from host_tools.power import FIRMWARE_DIR

DEFAULT_TARGET_CONTAMINATION = 0.10
DEFAULT_CONFIDENCE = 0.95
# A threshold that sends fewer items than this to recycling says little about contamination.
MIN_COVERAGE = 0.05
THRESHOLDS = tuple(round(step / 100, 2) for step in range(101))
GENERAL_LID = "general"
TRASH = "trash"


def firmware_decide():
    """The firmware's `smartbin.decide` module: the lid rule, written once."""
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_DIR))
    from smartbin import decide

    return decide


def one_lid_per_class(labels):
    """A bin config (as `smartbin.config` builds it) with a lid per class but trash."""
    recycling = [label for label in labels if label != TRASH]
    lids = [{"name": label} for label in recycling] + [{"name": GENERAL_LID}]
    class_to_lid = {label: label for label in recycling}
    class_to_lid[TRASH] = GENERAL_LID
    return SimpleNamespace(lids=lids, general_lid=GENERAL_LID, class_to_lid=class_to_lid)


class LidTable:
    """Lid names, each class's lid index and the general lid, as the firmware's Decider maps
    them for `labels` and a bin config (default: `one_lid_per_class`)."""

    def __init__(self, labels, bin_config=None):
        bin_config = bin_config or one_lid_per_class(labels)
        decider = firmware_decide().Decider(bin_config, list(labels), 0)
        self.names = [lid["name"] for lid in bin_config.lids]
        self.lid_for_class = np.array(decider.lid_for_class, np.int64)
        self.general = decider.general

    def class_to_lid_names(self, labels):
        """{class: lid name} as this table sorts a confident item of each class."""
        return {label: self.names[int(lid)] for label, lid in zip(labels, self.lid_for_class)}

    def lids_for(self, predicted, confidence, threshold):
        """Lid index per item for predicted class indices, their scores and a threshold."""
        predicted = np.asarray(predicted, np.int64)
        return np.where(np.asarray(confidence) >= threshold, self.lid_for_class[predicted],
                        self.general)


def lids_differ(model_contract, bin_config):
    """A one-line warning when the bin config would use model.json's threshold (it sets
    none of its own) but keeps apart classes that shared a lid where the threshold was
    fitted (a mistake between them, harmless there, now lands in the wrong lid); else None.
    Sharing more lids than at fitting is safe: it can only lower the contamination."""
    block = model_contract.get("sorting") or {}
    fitted_for = block.get("class_to_lid")
    if getattr(bin_config, "threshold", None) is not None or not isinstance(fitted_for, dict) \
            or block.get("threshold") is None:
        return None
    labels = list(model_contract["labels"])
    here = LidTable(labels, bin_config)
    # Which classes share a lid matters, not what the lids are called.
    def groups(mapping):
        shared = {}
        for label in labels:
            shared.setdefault(mapping.get(label), []).append(label)
        return sorted(sorted(group) for group in shared.values())
    config_lid = here.class_to_lid_names(labels)
    if all(config_lid[a] == config_lid[b] for a in labels for b in labels
           if fitted_for.get(a) == fitted_for.get(b)):
        return None
    return ("model.json's threshold %.2f was fitted for lids grouping the classes as %s; this "
            "config keeps some of them apart (%s): set decide.threshold (smartbin evaluate --config "
            "prints the one for your lids) or export the model again with --config"
            % (block["threshold"], _groups_text(groups(fitted_for)),
               _groups_text(groups(here.class_to_lid_names(labels)))))


def _groups_text(groups):
    return " | ".join("+".join(group) for group in groups)


def threshold_for(configured, model_contract):
    """The threshold the bin uses: `configured` when given, else model.json's recommended
    one, else the firmware's default (the firmware's own `choose_threshold`)."""
    recommended = (model_contract.get("sorting") or {}).get("threshold")
    return firmware_decide().choose_threshold(configured, recommended)


def point(truth, scores, threshold, table):
    """Coverage, contamination and recovery at one threshold (contamination None when no
    item reaches a recycling lid)."""
    truth = np.asarray(truth, np.int64)
    scores = np.asarray(scores, np.float64)
    lids = table.lids_for(scores.argmax(axis=1), scores.max(axis=1), threshold)
    right = table.lid_for_class[truth]
    recycled = lids != table.general
    recyclable = right != table.general
    recycled_count = int(recycled.sum())
    wrong = int((recycled & (lids != right)).sum())
    return {"threshold": round(float(threshold), 4),
            "coverage": round(recycled_count / len(truth), 4) if len(truth) else 0.0,
            "contamination": round(wrong / recycled_count, 4) if recycled_count else None,
            "recovered": round(int((recycled & (lids == right)).sum()) / int(recyclable.sum()), 4)
            if recyclable.any() else None,
            "recycled": recycled_count, "wrong_lid": wrong}


def sorting_curve(truth, scores, table, thresholds=THRESHOLDS):
    """One `point` per threshold; `scores` is N x classes (the model's output scores)."""
    if len(truth) == 0:
        raise SmartbinError("no items to draw a sorting curve from")
    return [point(truth, scores, threshold, table) for threshold in thresholds]


def contamination_bound(wrong, recycled, confidence=DEFAULT_CONFIDENCE):
    """The one-sided Wilson score upper bound of the contamination `wrong / recycled` at
    `confidence` (None: the measured share itself)."""
    if recycled <= 0:
        return None
    share = wrong / recycled
    if confidence is None:
        return share
    z = statistics.NormalDist().inv_cdf(confidence)
    z2 = z * z
    centre = share + z2 / (2 * recycled)
    spread = z * (share * (1 - share) / recycled + z2 / (4 * recycled * recycled)) ** 0.5
    return min(1.0, (centre + spread) / (1 + z2 / recycled))


def recommend(curve, target=DEFAULT_TARGET_CONTAMINATION, min_coverage=MIN_COVERAGE,
              confidence=DEFAULT_CONFIDENCE):
    """The lowest threshold whose contamination is at most `target` with `confidence`
    (`contamination_bound`; None: the measured share) while at least `min_coverage` of the
    items reach a recycling lid.

    When none does, the result says so (`target_met` false) and names the threshold with the
    lowest contamination bound at that coverage instead (None when no threshold has the
    coverage).
    """
    usable = [dict(row, bound=contamination_bound(row["wrong_lid"], row["recycled"],
                                                  confidence))
              for row in curve
              if row["contamination"] is not None and row["coverage"] >= min_coverage]
    meeting = [row for row in usable if row["bound"] <= target + 1e-12]
    if meeting:
        chosen, met = meeting[0], True
    elif usable:
        chosen, met = min(usable, key=lambda row: (row["bound"], row["threshold"])), False
    else:
        chosen, met = None, False
    result = {"target_contamination": target, "min_coverage": min_coverage,
              "confidence": confidence, "target_met": met,
              "threshold": chosen["threshold"] if chosen else None,
              "coverage": chosen["coverage"] if chosen else None,
              "contamination": chosen["contamination"] if chosen else None,
              "contamination_bound": round(chosen["bound"], 4) if chosen else None}
    result["statement"] = statement(result)
    return result


def statement(recommendation):
    """One sentence on what the recommendation means."""
    target = 100 * recommendation["target_contamination"]
    confidence = recommendation.get("confidence")
    sure = " with %.0f%% confidence" % (100 * confidence) if confidence else ""
    if recommendation["target_met"]:
        bound = (" (at most %.1f%%)" % (100 * recommendation["contamination_bound"])
                 if confidence else "")
        return ("threshold %.2f is the lowest that keeps recycling-lid contamination at or "
                "below %.0f%%%s: %.1f%% wrong%s, %.1f%% of items reach a recycling lid"
                % (recommendation["threshold"], target, sure,
                   100 * recommendation["contamination"], bound,
                   100 * recommendation["coverage"]))
    floor = 100 * recommendation["min_coverage"]
    if recommendation["threshold"] is None:
        return ("no threshold sends at least %.0f%% of items to a recycling lid: the target "
                "of %.0f%% contamination cannot be judged" % (floor, target))
    return ("no threshold keeps contamination at or below %.0f%%%s while at least %.0f%% of "
            "items reach a recycling lid; the cleanest, %.2f, still puts %.1f%% in the wrong "
            "lid (%.1f%% of items recycled)"
            % (target, sure, floor, recommendation["threshold"],
               100 * recommendation["contamination"], 100 * recommendation["coverage"]))
