"""The latency estimate: the anchor's own numbers, the MAC count of the anchor network,
and scaling by MACs."""
import pytest

from host_tools.model import latency


def test_anchor_network_has_the_stated_mac_count():
    assert latency.mobilenet_v1_macs(96, 1, 0.25, 2) == latency.ANCHOR_MACS == 7_157_888


def test_anchor_model_estimates_exactly_the_published_times():
    assert latency.estimate_ms(latency.ANCHOR_MACS) == pytest.approx(380.0)
    assert latency.estimate_ms(latency.ANCHOR_MACS, "reference") == pytest.approx(4084.0)


def test_cycles_per_mac_follow_from_the_anchor_at_240_mhz():
    assert latency.cycles_per_mac("esp_nn") == pytest.approx(0.380 * 240e6 / 7_157_888)
    assert latency.cycles_per_mac("reference") == pytest.approx(136.93, abs=0.01)


def test_estimate_scales_linearly_with_macs():
    assert latency.estimate_ms(2 * latency.ANCHOR_MACS) == pytest.approx(760.0)
    assert latency.estimate_ms(0) == 0.0


def test_rgb_input_triples_only_the_first_convolution():
    first_conv_gray = 48 * 48 * 8 * 9
    assert (latency.mobilenet_v1_macs(96, 3, 0.25, 2)
            - latency.mobilenet_v1_macs(96, 1, 0.25, 2)) == 2 * first_conv_gray


def test_odd_sides_follow_keras_padding():
    # 88 -> 44 -> 22 -> 11 -> 5 -> 2 (stride-2 depthwise layers floor an odd side).
    assert latency.mobilenet_v1_macs(88, 3, 0.25, 6) == 5_425_632


def test_cut_backbone_drops_the_last_block():
    full = latency.mobilenet_v1_macs(96, 3, 0.25, 6)
    cut = latency.mobilenet_v1_macs(96, 3, 0.25, 6, blocks=12)
    assert full - cut == 3 * 3 * 256 * 9 + 3 * 3 * 256 * 256


def test_unknown_kernels_are_refused():
    with pytest.raises(ValueError):
        latency.estimate_ms(1, "gpu")
