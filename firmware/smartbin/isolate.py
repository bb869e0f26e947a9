"""Find the item by its difference from the empty chamber, and show the model only that box.

model.json's "isolate" block turns this on (absent: the model sees the whole frame, as
the sensor scales it). The camera then captures at isolate's frame size, larger than the
model input. The bin keeps a grey thumbnail of its empty chamber: `grid` x `grid` cells,
each the mean grey of its block of pixels (an RGB565 pixel's grey is r5 + g6 + b5,
doubled, so a cell is 0..252; a GRAY pixel's is its luma). At an item:
1. the same thumbnail of the new frame; a cell whose grey differs from the empty one by
   more than `threshold` has changed;
2. a changed cell none of whose eight neighbours changed is noise and is dropped;
3. fewer than `min_cells` cells left (nothing found), or more than `max_share` of all
   cells changed (the light changed, the camera moved): the whole frame;
4. else the box around the cells left, grown by `margin` cells on each side, in pixels,
   widened (about its centre) to the model input's aspect and shifted inside the frame;
5. the box is resized into the input tensor by nearest neighbour: output pixel i of n
   takes source pixel start + (2i + 1) * size // (2n).
Integers throughout, so the host's twin (host_tools/isolate.py) finds the same box and
the same pixels. Buffers are made once; `prepare(frame)` and `fill(frame, out)`
allocate nothing. The pixel loops have native twins in `isolate_viper` (used where the
firmware has the viper emitter), as `preprocess` has."""

from array import array

MAX_GRID = 64
# shape: frame_width, grid, cell_w, cell_h; plan: input width, input height, then each
# output column's byte offset in a row, then each output row's byte offset in the frame
_PLAN_HEADER = 2


def plain_grey_rgb565(frame, cells, sums, shape):
    """Mean grey of each cell of an RGB565 frame into `cells` (0..252)."""
    frame_width = shape[0]
    grid = shape[1]
    cell_w = shape[2]
    cell_h = shape[3]
    count = cell_w * cell_h
    row_bytes = frame_width * 2
    for cy in range(grid):
        for cx in range(grid):
            sums[cx] = 0
        y0 = cy * cell_h
        for y in range(y0, y0 + cell_h):
            i = y * row_bytes
            for cx in range(grid):
                total = 0
                for _ in range(cell_w):
                    hi = frame[i]
                    lo = frame[i + 1]
                    total += (hi >> 3) + (((hi & 7) << 3) | (lo >> 5)) + (lo & 31)
                    i += 2
                sums[cx] += total
        base = cy * grid
        for cx in range(grid):
            cells[base + cx] = sums[cx] * 2 // count


def plain_grey_luma(frame, cells, sums, shape):
    """Mean luma of each cell of a GRAY frame into `cells` (0..255)."""
    frame_width = shape[0]
    grid = shape[1]
    cell_w = shape[2]
    cell_h = shape[3]
    count = cell_w * cell_h
    for cy in range(grid):
        for cx in range(grid):
            sums[cx] = 0
        y0 = cy * cell_h
        for y in range(y0, y0 + cell_h):
            i = y * frame_width
            for cx in range(grid):
                total = 0
                for _ in range(cell_w):
                    total += frame[i]
                    i += 1
                sums[cx] += total
        base = cy * grid
        for cx in range(grid):
            cells[base + cx] = sums[cx] // count


def plain_crop_rgb565(frame, out, five, six, plan):
    """Nearest-neighbour crop of an RGB565 frame into int8 RGB bytes, as `plan` says."""
    width = plan[0]
    height = plan[1]
    rows = _PLAN_HEADER + width
    j = 0
    for r in range(height):
        row = plan[rows + r]
        for k in range(width):
            i = row + plan[_PLAN_HEADER + k]
            hi = frame[i]
            lo = frame[i + 1]
            out[j] = five[hi >> 3]
            out[j + 1] = six[((hi & 7) << 3) | (lo >> 5)]
            out[j + 2] = five[lo & 31]
            j += 3


def plain_crop_luma(frame, out, lut, plan):
    width = plan[0]
    height = plan[1]
    rows = _PLAN_HEADER + width
    j = 0
    for r in range(height):
        row = plan[rows + r]
        for k in range(width):
            out[j] = lut[frame[row + plan[_PLAN_HEADER + k]]]
            j += 1


def _nearest(start, size, count, step, plan, at):
    # output i of count samples source start + (2i + 1) * size // (2 count), as a byte offset
    for i in range(count):
        plan[at + i] = (start + (2 * i + 1) * size // (2 * count)) * step


def _native():
    try:
        from smartbin import isolate_viper
        return isolate_viper
    except (ImportError, SyntaxError, ValueError):
        return None  # no viper emitter here (VM, CPython): the plain versions


def max_changed_cells(share, cells):
    """Most cells that may change before it counts as a light change: `share` of `cells`,
    in whole permille so that the board's single-precision floats and the host's doubles
    give the same count."""
    return int(share * 1000 + 0.5) * cells // 1000


def settings_problem(block, input_width, input_height):
    """Why model.json's "isolate" block is unusable (a one-line reason), or None."""
    def is_int(value):
        return isinstance(value, int) and not isinstance(value, bool)

    if not isinstance(block, dict):
        return "'isolate' must be an object"
    for key, limit in (("frame_width", input_width), ("frame_height", input_height)):
        value = block.get(key)
        if not is_int(value) or not limit <= value <= 640:
            return "isolate.%s must be an integer from the input's %d to 640" % (key, limit)
    grid = block.get("grid")
    if not is_int(grid) or not 2 <= grid <= MAX_GRID:
        return "isolate.grid must be an integer from 2 to %d" % MAX_GRID
    if block["frame_width"] % grid or block["frame_height"] % grid:
        return "isolate.grid must divide the frame (%dx%d) into whole cells" % (
            block["frame_width"], block["frame_height"])
    threshold = block.get("threshold")
    if not is_int(threshold) or not 1 <= threshold <= 254:
        return "isolate.threshold must be an integer grey step from 1 to 254"
    margin = block.get("margin")
    if not is_int(margin) or not 0 <= margin <= grid:
        return "isolate.margin must be an integer number of cells from 0 to the grid"
    min_cells = block.get("min_cells")
    if not is_int(min_cells) or not 1 <= min_cells <= grid * grid:
        return "isolate.min_cells must be an integer from 1 to grid x grid"
    share = block.get("max_share")
    if (not isinstance(share, (int, float)) or isinstance(share, bool)
            or share - share != 0 or not 0 < share <= 1):
        return "isolate.max_share must be a number above 0 and at most 1"
    return None


class Isolator:
    """The rule above, for one contract. After `prepare(frame)`: `left`, `top`, `width`,
    `height` (the box in frame pixels) and `found` (False: the whole frame)."""

    def __init__(self, block, input_width, input_height, rgb, allow_native=True):
        self.frame_width = block["frame_width"]
        self.frame_height = block["frame_height"]
        self.grid = block["grid"]
        self.threshold = block["threshold"]
        self.margin = block["margin"]
        self.min_cells = block["min_cells"]
        self.max_cells = max_changed_cells(block["max_share"], self.grid * self.grid)
        self.cell_w = self.frame_width // self.grid
        self.cell_h = self.frame_height // self.grid
        self.input_width = input_width
        self.input_height = input_height
        self.rgb = rgb
        self.bytes_per_pixel = 2 if rgb else 1
        self.frame_bytes = self.frame_width * self.frame_height * self.bytes_per_pixel
        cells = self.grid * self.grid
        self.empty = bytearray(cells)
        self.has_empty = False
        self.cells = bytearray(cells)
        self.changed = bytearray(cells)
        self.sums = array("i", [0] * self.grid)
        self.shape = array("i", (self.frame_width, self.grid, self.cell_w, self.cell_h))
        self.plan = array("i", [0] * (_PLAN_HEADER + input_width + input_height))
        self.plan[0] = input_width
        self.plan[1] = input_height
        native = _native() if allow_native else None
        self.native = native is not None
        if rgb:
            self._grey = native.grey_rgb565 if native else plain_grey_rgb565
            self._crop_rgb565 = native.crop_rgb565 if native else plain_crop_rgb565
        else:
            self._grey = native.grey_luma if native else plain_grey_luma
            self._crop_luma = native.crop_luma if native else plain_crop_luma
        self.changed_cells = 0
        self.kept_cells = 0
        self.whole_frame()

    def whole_frame(self):
        self.found = False
        self.left = 0
        self.top = 0
        self.width = self.frame_width
        self.height = self.frame_height

    def thumbnail(self, frame, cells):
        self._grey(frame, cells, self.sums, self.shape)

    def remember_empty(self, frame):
        """Take `frame` (the empty chamber) as the reference."""
        self.thumbnail(frame, self.empty)
        self.has_empty = True

    def load_empty(self, thumbnail):
        """A stored reference thumbnail (bytes of grid x grid cells); False if it does not fit."""
        if len(thumbnail) != len(self.empty):
            self.has_empty = False
            return False
        self.empty[:] = thumbnail
        self.has_empty = True
        return True

    def prepare(self, frame):
        """Find the box of the item in `frame` (see the module's rule)."""
        self.whole_frame()
        self.changed_cells = 0
        self.kept_cells = 0
        if not self.has_empty:
            return
        self.thumbnail(frame, self.cells)
        grid = self.grid
        cells = self.cells
        empty = self.empty
        changed = self.changed
        threshold = self.threshold
        count = 0
        for i in range(grid * grid):
            difference = cells[i] - empty[i]
            if difference > threshold or -difference > threshold:
                changed[i] = 1
                count += 1
            else:
                changed[i] = 0
        self.changed_cells = count
        if count > self.max_cells:
            return  # the light changed or the camera moved: nothing to compare with
        kept = 0
        left = grid
        right = -1
        top = grid
        bottom = -1
        for y in range(grid):
            for x in range(grid):
                if not changed[y * grid + x]:
                    continue
                if not self._has_changed_neighbour(x, y):
                    continue
                kept += 1
                if x < left:
                    left = x
                if x > right:
                    right = x
                if y < top:
                    top = y
                if y > bottom:
                    bottom = y
        self.kept_cells = kept
        if kept < self.min_cells:
            return
        margin = self.margin
        left = max(0, left - margin) * self.cell_w
        top = max(0, top - margin) * self.cell_h
        right = (min(grid - 1, right + margin) + 1) * self.cell_w
        bottom = (min(grid - 1, bottom + margin) + 1) * self.cell_h
        self._set_box(left, top, right - left, bottom - top)

    def _has_changed_neighbour(self, x, y):
        grid = self.grid
        changed = self.changed
        for ny in range(max(0, y - 1), min(grid, y + 2)):
            for nx in range(max(0, x - 1), min(grid, x + 2)):
                if (nx != x or ny != y) and changed[ny * grid + nx]:
                    return True
        return False

    def _set_box(self, left, top, width, height):
        # widen the short side (about the centre) to the input's aspect, then fit the frame
        in_w = self.input_width
        in_h = self.input_height
        if width * in_h < height * in_w:
            wanted = min(self.frame_width, (height * in_w + in_h - 1) // in_h)
            left -= (wanted - width) // 2
            width = wanted
        elif width * in_h > height * in_w:
            wanted = min(self.frame_height, (width * in_h + in_w - 1) // in_w)
            top -= (wanted - height) // 2
            height = wanted
        self.left = max(0, min(left, self.frame_width - width))
        self.top = max(0, min(top, self.frame_height - height))
        self.width = width
        self.height = height
        self.found = True

    def fill(self, frame, out, tables):
        """Resize the box of `frame` into `out` (int8 input bytes); `tables` are the
        preprocessor's (five, six) for RGB565 or (lut,) for GRAY."""
        step = self.bytes_per_pixel
        plan = self.plan
        _nearest(self.left, self.width, self.input_width, step, plan, _PLAN_HEADER)
        _nearest(self.top, self.height, self.input_height, self.frame_width * step, plan,
                 _PLAN_HEADER + self.input_width)
        if self.rgb:
            self._crop_rgb565(frame, out, tables[0], tables[1], plan)
        else:
            self._crop_luma(frame, out, tables[0], plan)
