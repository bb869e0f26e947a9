"""Native (viper) twins of `preprocess.plain_rgb565` / `plain_gray`, same arguments and the
same bytes out. Importing this module fails where the viper emitter is missing (the VM,
CPython), and `preprocess` then uses the plain versions."""
import micropython


@micropython.viper
def rgb565(frame, out, five, six, pixels: int):
    src = ptr8(frame)
    dst = ptr8(out)
    t5 = ptr8(five)
    t6 = ptr8(six)
    i = 0
    j = 0
    end = pixels * 2
    while i < end:
        hi = src[i]
        lo = src[i + 1]
        dst[j] = t5[hi >> 3]
        dst[j + 1] = t6[((hi & 7) << 3) | (lo >> 5)]
        dst[j + 2] = t5[lo & 31]
        i += 2
        j += 3


@micropython.viper
def gray(frame, out, lut, pixels: int):
    src = ptr8(frame)
    dst = ptr8(out)
    table = ptr8(lut)
    i = 0
    while i < pixels:
        dst[i] = table[src[i]]
        i += 1
