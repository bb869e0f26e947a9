"""Estimated ESP32 inference time of a model, scaled by multiply-accumulates (MACs) from
Espressif's published TFLM timing of the person-detection model.

Anchor (esp-tflite-micro README, ESP32 at 240 MHz): the TFLM person-detection model,
MobileNetV1 alpha 0.25 on 96x96 grayscale with 2 classes, takes 4084 ms per invoke with
the reference kernels and 380 ms with ESP-NN. That network has 7,157,888 MACs (counted by
`mobilenet_v1_macs(96, 1, 0.25, 2)`), so one MAC costs about 137 cycles without ESP-NN
and 12.7 with it. Our models are the same kind of network (depthwise-separable int8
convolutions), so MACs x cycles per MAC is a fair first estimate; the board measures the
truth (the firmware logs each invoke's time).
"""
ANCHOR = "TFLM person_detection (MobileNetV1-0.25, 96x96x1, 2 classes), ESP32 @ 240 MHz"
ANCHOR_MACS = 7_157_888
ANCHOR_MS = {"esp_nn": 380.0, "reference": 4084.0}
CPU_HZ = 240_000_000

# MobileNetV1's pointwise widths and depthwise strides after the first convolution.
_MOBILENET_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                        (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def cycles_per_mac(kernels="esp_nn"):
    """CPU cycles one MAC costs on the anchor ("esp_nn" or "reference" kernels)."""
    return ANCHOR_MS[kernels] / 1000.0 * CPU_HZ / ANCHOR_MACS


def estimate_ms(macs, kernels="esp_nn"):
    """Estimated milliseconds per invoke on an ESP32 at 240 MHz for a model of `macs`."""
    if kernels not in ANCHOR_MS:
        raise ValueError("kernels must be one of %s" % ", ".join(ANCHOR_MS))
    return float(macs) * ANCHOR_MS[kernels] / ANCHOR_MACS


def mobilenet_v1_macs(input_size, channels, alpha, classes, blocks=13):
    """MACs of Keras's MobileNetV1 (include_top=False) + global pooling + dense head.

    Keras pads the stride-2 depthwise layers (0, 1) and runs them "valid", so a side of n
    becomes n // 2 there, and the first convolution ("same", stride 2) gives ceil(n / 2).
    `blocks` < 13 counts a backbone cut after that many depthwise-separable blocks.
    """
    side = (input_size + 1) // 2
    width = int(32 * alpha)
    total = side * side * width * 9 * channels
    for filters, stride in _MOBILENET_V1_BLOCKS[:blocks]:
        if stride == 2:
            side //= 2
        out_width = int(filters * alpha)
        total += side * side * width * 9 + side * side * width * out_width
        width = out_width
    return total + width * classes
