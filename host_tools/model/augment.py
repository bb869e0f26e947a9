"""Augmentation that makes TrashNet photos look like what the bin's camera sees.

TrashNet shows one object, centred, on a white posterboard under even light. The bin's
OV2640 sees it on the bin's floor or on other rubbish, lit by the flash LED (a glare
spot), sometimes dim, out of focus, smaller and off centre, in 16-bit RGB565. Each step
below imitates one of those, on float batches of 0..255 RGB pixels (TensorFlow ops, so it
runs inside the tf.data pipeline):

- framing: random crop or zoom-out (the object smaller, the border filled with the
  photo's own background colour), any of the 8 flips/quarter-turns (the camera looks
  down, so an item has no "up");
- background: the posterboard recoloured with a random low-frequency texture and grain,
  keeping the object's shadows;
- light: exposure, contrast, saturation and white-balance changes, and (colour_drop) some
  photos turned grey, so colour alone cannot decide the class;
- flash glare: a bright Gaussian spot at a random place;
- optics: defocus blur and sensor noise;
- RGB565: each channel quantised to the sensor's 5/6/5 bits.

`strength` scales every range (0 = off, 1 = default, 2 = strong).
"""

# Colour distance (0..255 units) under which a pixel counts as the photo's background.
_BACKGROUND_DISTANCE = 30.0


def _uniform(tf, shape, low, high):
    return tf.random.uniform(shape, low, high)


def _chance(tf, batch, probability):
    """Per-image 0/1 mask, 1 with the given probability."""
    return tf.cast(tf.random.uniform([batch, 1, 1, 1]) < probability, tf.float32)


def _border_colour(tf, images):
    """Mean colour of each image's outermost pixels (TrashNet: the posterboard)."""
    border = tf.concat([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], 1)
    return tf.reduce_mean(border, 1)[:, None, None, :]


def framing(tf, images, strength=1.0):
    """Random crop (down to 60% of the side) or zoom-out (object down to ~75%), aspect
    jitter, then one of the 8 flips/quarter-turns. Images must be square."""
    batch, side = tf.shape(images)[0], tf.shape(images)[1]
    min_scale, zoom_out = 1.0 - 0.4 * strength, 0.15 * strength
    scale = _uniform(tf, [batch], min_scale, 1.0 + 2.0 * zoom_out)
    aspect = tf.exp(_uniform(tf, [batch], -0.2 * strength, 0.2 * strength + 1e-6))
    height, width = scale * tf.sqrt(aspect), scale / tf.sqrt(aspect)
    centre_y = 0.5 + _uniform(tf, [batch], -0.5, 0.5) * tf.abs(1.0 - height)
    centre_x = 0.5 + _uniform(tf, [batch], -0.5, 0.5) * tf.abs(1.0 - width)
    boxes = tf.stack([centre_y - height / 2, centre_x - width / 2,
                      centre_y + height / 2, centre_x + width / 2], 1)
    # Outside the photo, continue its own background instead of black.
    fill = _border_colour(tf, images)
    images = tf.image.crop_and_resize(images - fill, boxes, tf.range(batch), [side, side],
                                      extrapolation_value=0.0) + fill
    images = tf.where(_chance(tf, batch, 0.5) > 0, images[:, :, ::-1], images)
    images = tf.where(_chance(tf, batch, 0.5) > 0, images[:, ::-1], images)
    return tf.where(_chance(tf, batch, 0.5) > 0, tf.transpose(images, [0, 2, 1, 3]), images)


def background(tf, images, strength=1.0, probability=0.5):
    """Recolour the background (pixels close to the border colour) of some images with a
    random low-frequency colour texture plus grain, shaded like the original."""
    batch, side = tf.shape(images)[0], tf.shape(images)[1]
    plain = _border_colour(tf, images)
    distance = tf.sqrt(tf.reduce_sum(tf.square(images - plain), 3, keepdims=True))
    mask = tf.nn.avg_pool2d(tf.clip_by_value(1.5 - distance / _BACKGROUND_DISTANCE, 0.0, 1.0),
                            5, 1, "SAME")
    texture = tf.image.resize(tf.random.uniform([batch, 4, 4, 3], 0.0, 255.0), [side, side])
    texture += tf.random.normal([batch, side, side, 1], 0.0, 12.0)
    shading = tf.clip_by_value(tf.reduce_mean(images / (plain + 1.0), 3, keepdims=True),
                               0.3, 1.2)
    amount = mask * _chance(tf, batch, min(1.0, probability * strength)) \
        * _uniform(tf, [batch, 1, 1, 1], 0.5, 1.0)
    return images * (1.0 - amount) + texture * shading * amount


def light(tf, images, strength=1.0, colour_drop=0.0):
    """Exposure, brightness, contrast, saturation and white balance; a `colour_drop`
    share of the images loses its colour (saturation 0)."""
    batch = tf.shape(images)[0]
    s = strength
    images = images * _uniform(tf, [batch, 1, 1, 1], 1 - 0.4 * s, 1 + 0.3 * s) \
        + _uniform(tf, [batch, 1, 1, 1], -30 * s, 30 * s)
    mean = tf.reduce_mean(images, [1, 2, 3], keepdims=True)
    images = (images - mean) * _uniform(tf, [batch, 1, 1, 1], 1 - 0.3 * s, 1 + 0.3 * s) + mean
    grey = tf.reduce_mean(images, 3, keepdims=True)
    saturation = _uniform(tf, [batch, 1, 1, 1], 1 - 0.4 * s, 1 + 0.4 * s) \
        * (1.0 - _chance(tf, batch, colour_drop))
    images = (images - grey) * saturation + grey
    channels = images.shape[-1]
    return images * _uniform(tf, [batch, 1, 1, channels], 1 - 0.15 * s, 1 + 0.15 * s)


def flash_glare(tf, images, strength=1.0, probability=0.3):
    """A bright round spot (the flash LED's reflection) on some images."""
    batch, side = tf.shape(images)[0], tf.shape(images)[1]
    grid = tf.range(tf.cast(side, tf.float32)) / tf.cast(side, tf.float32)
    centre_y = _uniform(tf, [batch, 1, 1], 0.0, 1.0)
    centre_x = _uniform(tf, [batch, 1, 1], 0.0, 1.0)
    radius = _uniform(tf, [batch, 1, 1], 0.05, 0.2)
    spot = tf.exp(-(tf.square(grid[None, :, None] - centre_y)
                    + tf.square(grid[None, None, :] - centre_x)) / (2.0 * radius * radius))
    peak = _uniform(tf, [batch, 1, 1], 120.0, 255.0) \
        * _chance(tf, batch, min(1.0, probability * strength))[..., 0]
    return images + (spot * peak)[..., None]


def optics(tf, images, strength=1.0, probability=0.3):
    """Defocus (a 3x3 blur mixed in) on some images, and sensor noise on all."""
    batch = tf.shape(images)[0]
    blurred = tf.nn.avg_pool2d(images, 3, 1, "SAME")
    amount = _uniform(tf, [batch, 1, 1, 1], 0.0, 1.0) \
        * _chance(tf, batch, min(1.0, probability * strength))
    images = images * (1.0 - amount) + blurred * amount
    return images + tf.random.normal(tf.shape(images)) \
        * _uniform(tf, [batch, 1, 1, 1], 0.0, 6.0 * strength)


def rgb565(tf, images):
    """Quantise to the camera's 5/6/5 bits per channel (bin centres, as widening gives)."""
    step = tf.constant([8.0, 4.0, 8.0])
    return tf.floor(tf.clip_by_value(images, 0.0, 255.0) / step) * step + step / 2.0


def bin_augment(images, strength=1.0, colour_drop=0.0):
    """The whole chain on a float32 batch [N, S, S, 3] of 0..255 pixels; returns 0..255."""
    from host_tools.model import backbones

    tf = backbones.tensorflow()
    if strength <= 0:
        return images
    images = framing(tf, images, strength)
    if images.shape[-1] == 3:
        images = background(tf, images, strength)
    images = light(tf, images, strength, colour_drop)
    images = flash_glare(tf, images, strength)
    images = optics(tf, images, strength)
    if images.shape[-1] == 3:
        images = rgb565(tf, images)
    return tf.clip_by_value(images, 0.0, 255.0)
