"""Native (viper) twins of `isolate.plain_grey_rgb565`, `plain_grey_luma`,
`plain_crop_rgb565` and `plain_crop_luma`: same arguments, same bytes out. Importing this
module fails where the viper emitter is missing (the VM, CPython), and `isolate` then uses
the plain versions."""
import micropython


@micropython.viper
def grey_rgb565(frame, cells, sums, shape):
    src = ptr8(frame)
    dst = ptr8(cells)
    total = ptr32(sums)
    geometry = ptr32(shape)
    frame_width = geometry[0]
    grid = geometry[1]
    cell_w = geometry[2]
    cell_h = geometry[3]
    count = cell_w * cell_h
    row_bytes = frame_width * 2
    cy = 0
    while cy < grid:
        cx = 0
        while cx < grid:
            total[cx] = 0
            cx += 1
        y = cy * cell_h
        y_end = y + cell_h
        while y < y_end:
            i = y * row_bytes
            cx = 0
            while cx < grid:
                cell = 0
                end = i + cell_w * 2
                while i < end:
                    hi = src[i]
                    lo = src[i + 1]
                    cell += (hi >> 3) + (((hi & 7) << 3) | (lo >> 5)) + (lo & 31)
                    i += 2
                total[cx] = total[cx] + cell
                cx += 1
            y += 1
        base = cy * grid
        cx = 0
        while cx < grid:
            dst[base + cx] = (total[cx] * 2) // count
            cx += 1
        cy += 1


@micropython.viper
def grey_luma(frame, cells, sums, shape):
    src = ptr8(frame)
    dst = ptr8(cells)
    total = ptr32(sums)
    geometry = ptr32(shape)
    frame_width = geometry[0]
    grid = geometry[1]
    cell_w = geometry[2]
    cell_h = geometry[3]
    count = cell_w * cell_h
    cy = 0
    while cy < grid:
        cx = 0
        while cx < grid:
            total[cx] = 0
            cx += 1
        y = cy * cell_h
        y_end = y + cell_h
        while y < y_end:
            i = y * frame_width
            cx = 0
            while cx < grid:
                cell = 0
                end = i + cell_w
                while i < end:
                    cell += src[i]
                    i += 1
                total[cx] = total[cx] + cell
                cx += 1
            y += 1
        base = cy * grid
        cx = 0
        while cx < grid:
            dst[base + cx] = total[cx] // count
            cx += 1
        cy += 1


@micropython.viper
def crop_rgb565(frame, out, five, six, plan):
    src = ptr8(frame)
    dst = ptr8(out)
    t5 = ptr8(five)
    t6 = ptr8(six)
    steps = ptr32(plan)
    width = steps[0]
    height = steps[1]
    rows = 2 + width
    j = 0
    r = 0
    while r < height:
        row = steps[rows + r]
        k = 0
        while k < width:
            i = row + steps[2 + k]
            hi = src[i]
            lo = src[i + 1]
            dst[j] = t5[hi >> 3]
            dst[j + 1] = t6[((hi & 7) << 3) | (lo >> 5)]
            dst[j + 2] = t5[lo & 31]
            j += 3
            k += 1
        r += 1


@micropython.viper
def crop_luma(frame, out, lut, plan):
    src = ptr8(frame)
    dst = ptr8(out)
    table = ptr8(lut)
    steps = ptr32(plan)
    width = steps[0]
    height = steps[1]
    rows = 2 + width
    j = 0
    r = 0
    while r < height:
        row = steps[rows + r]
        k = 0
        while k < width:
            dst[j] = table[src[row + steps[2 + k]]]
            j += 1
            k += 1
        r += 1
