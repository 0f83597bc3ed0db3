import numpy as np
import pytest
from PIL import Image

from hopid.data.images import ImageLoadError, load_rgb, upright_size


def save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not an image"), "not an image"),
    ],
)
def test_unusable_files_give_reasons(tmp_path, make, reason):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageLoadError, match=reason):
        load_rgb(path)


def test_truncated_jpeg(tmp_path):
    path = save(Image.new("RGB", (200, 200), "red"), tmp_path / "full.jpg", quality=95)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_rgb(truncated)


def test_decompression_bomb_is_refused(tmp_path):
    path = save(Image.new("1", (3000, 3000)), tmp_path / "bomb.png")
    with pytest.raises(ImageLoadError, match="too large"):
        load_rgb(path, max_pixels=1_000_000)


def test_png_named_jpg_still_loads(tmp_path):
    path = save(Image.new("RGB", (10, 10), "blue"), tmp_path / "really_png.jpg", format="PNG")
    assert load_rgb(path).getpixel((0, 0)) == (0, 0, 255)


def test_modes_become_rgb(tmp_path):
    cmyk = save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")
    palette = Image.new("P", (8, 8))
    palette.putpalette([0, 255, 0] * 256)
    palette_path = save(palette, tmp_path / "palette.png")
    sixteen = save(Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)), tmp_path / "sixteen.png")
    for path in (cmyk, palette_path, sixteen):
        image = load_rgb(path)
        assert image.mode == "RGB" and image.size == (8, 8)
    assert load_rgb(cmyk).getpixel((0, 0))[0] > 200  # CMYK red stays red
    assert load_rgb(palette_path).getpixel((0, 0)) == (0, 255, 0)
    assert load_rgb(sixteen).getpixel((0, 0)) == (255, 255, 255)  # 16-bit white is white, not clipped noise


def test_exif_rotation_gives_the_upright_image(tmp_path):
    image = Image.new("RGB", (40, 20), "white")
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red stripe on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    path = save(image, tmp_path / "rotated.jpg", exif=exif, quality=95)
    upright = load_rgb(path)
    assert upright.size == (20, 40) == upright_size(path)
    top_middle = upright.getpixel((10, 2))
    assert top_middle[0] > 200 and top_middle[1] < 80  # the stripe is now on top
