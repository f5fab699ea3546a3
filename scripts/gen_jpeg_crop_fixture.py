#!/usr/bin/python3
"""Writes test/fixtures/jpeg_crops.json: three small JPEGs (colour 4:2:0, grayscale, progressive)
and, for boxes of each, torchvision's random-resized-crop output computed by PIL (crop, then resize
to S x S with the bilinear filter, then the horizontal flip): what odc_image's cropJpeg must return.
Usage: /usr/bin/python3 scripts/gen_jpeg_crop_fixture.py"""
import base64
import io
import json
import math
import random

from PIL import Image

random.seed(7)


def picture(w, h):
    """Gradients, discs and noise: edges and texture at several scales."""
    im = Image.new('RGB', (w, h))
    px = im.load()
    discs = [(random.uniform(0, w), random.uniform(0, h), random.uniform(6, 30), [random.randint(0, 255) for _ in range(3)]) for _ in range(6)]
    for y in range(h):
        for x in range(w):
            r, g, b = 40 + 180 * x // w, 60 + 150 * y // h, 128 + int(60 * math.sin(x / 7.0) * math.cos(y / 5.0))
            for cx, cy, rad, col in discs:
                if (x - cx) ** 2 + (y - cy) ** 2 < rad * rad:
                    r, g, b = col
            n = random.randint(-12, 12)
            px[x, y] = (max(0, min(255, r + n)), max(0, min(255, g + n)), max(0, min(255, b + n)))
    return im


def jpeg(im, **kw):
    buf = io.BytesIO()
    im.save(buf, 'JPEG', quality=90, **kw)
    return buf.getvalue()


images = {
    'colour': jpeg(picture(120, 100), subsampling=2),
    'gray': jpeg(picture(90, 70).convert('L')),
    'progressive': jpeg(picture(110, 96), progressive=True, subsampling=2),
}
# (image, top, left, height, width, size, flip)
cases = [
    ('colour', 0, 0, 100, 120, 32, False),   # the whole image, reduced 3x (decoded at 1/2)
    ('colour', 0, 0, 100, 120, 32, True),
    ('colour', 10, 20, 30, 40, 32, False),   # enlarged
    ('colour', 5, 5, 70, 70, 32, False),     # reduced 2.2x (decoded at 1/2)
    ('colour', 50, 60, 40, 50, 32, True),    # reduced a little, at the corner
    ('colour', 37, 13, 45, 61, 24, False),
    ('gray', 3, 4, 60, 80, 32, False),
    ('progressive', 10, 10, 64, 80, 32, False),
    ('progressive', 31, 47, 33, 29, 32, True),
]
crops = []
for name, top, left, h, w, size, flip in cases:
    im = Image.open(io.BytesIO(images[name])).convert('RGB').crop((left, top, left + w, top + h)).resize((size, size), Image.BILINEAR)
    if flip:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    crops.append({'image': name, 'box': [top, left, h, w], 'size': size, 'flip': flip, 'hwc': base64.b64encode(im.tobytes()).decode()})
out = {'images': {k: base64.b64encode(v).decode() for k, v in images.items()}, 'crops': crops}
with open('test/fixtures/jpeg_crops.json', 'w') as f:
    json.dump(out, f)
print(f'test/fixtures/jpeg_crops.json: {len(crops)} crops of {len(images)} images')
