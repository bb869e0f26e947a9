"""Which lid gets the item: the top class's lid when its confidence reaches the threshold,
the general-waste lid otherwise (and always for 'trash'). Several classes may share a lid."""

_TRASH = "trash"
# For a model.json that recommends no threshold (exported before it could).
DEFAULT_THRESHOLD = 0.6


def choose_threshold(configured, recommended):
    """The confidence the top class needs: config.json's decide.threshold when it sets one,
    else the model's recommended threshold (model.json "sorting"), else DEFAULT_THRESHOLD."""
    if configured is not None:
        return configured
    if recommended is not None:
        return recommended
    return DEFAULT_THRESHOLD


class Decider:
    def __init__(self, config, labels, threshold_score):
        names = [lid["name"] for lid in config.lids]
        self.general = names.index(config.general_lid)
        self.threshold_score = threshold_score
        self.unmapped = []
        self.lid_for_class = []
        for label in labels:
            lid_name = config.class_to_lid.get(label)
            if lid_name is None:
                self.unmapped.append(label)
            if label == _TRASH or lid_name is None:
                self.lid_for_class.append(self.general)
            else:
                self.lid_for_class.append(names.index(lid_name))

    def confident(self, score):
        return score >= self.threshold_score

    def lid_for(self, label_index, score):
        """Lid index for a class index and its int8 score (label_index < 0: unknown)."""
        if label_index < 0 or score < self.threshold_score:
            return self.general
        return self.lid_for_class[label_index]
