"""Built-in data, conversions and degradations, against numpy/scipy/Pillow references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from PIL import Image

import rdpkit
from rdpkit import data
from rdpkit.degrade import degrade


def test_to_tensor_conversions():
    a = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    t = data.to_tensor(a)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32
    assert float(t[0, 2, 1, 3]) == pytest.approx(a[1, 3, 2] / 255)
    assert data.to_tensor(a[:, :, 0]).shape == (1, 1, 5, 7)
    assert data.to_tensor(np.dstack([a, a[:, :, :1]])).shape == (1, 3, 5, 7)  # alpha dropped
    assert torch.equal(data.to_tensor(Image.fromarray(a)), t)
    assert np.array_equal(data.to_numpy(t), a)
    with pytest.raises(rdpkit.InputError, match="must have values in"):
        data.to_tensor(a.astype(np.float32))
    with pytest.raises(rdpkit.InputError, match="transpose"):
        data.to_tensor(np.zeros((3, 5, 7, 2)))


@pytest.mark.parametrize("name", data.builtin_names())
def test_builtin_images_load_in_range(name):
    x = data.load_image(f"builtin:{name}", size=48)
    assert x.shape == (1, 3, 48, 48) and 0 <= float(x.min()) <= float(x.max()) <= 1


def test_sizes_and_modes():
    full = data.load_image("builtin:camera")
    assert full.shape == (1, 3, 512, 512)
    crop = data.load_image("builtin:camera", size=64, mode="crop", gray=True)
    assert crop.shape == (1, 1, 64, 64)
    ref = data.to_tensor(__import__("skimage.data").data.camera())[..., 224:288, 224:288]
    assert torch.equal(crop, ref)
    assert data.load_image("builtin:astronaut", size=(32, 48)).shape == (1, 3, 32, 48)


def test_unknown_builtin_and_missing_file(tmp_path):
    with pytest.raises(rdpkit.InputError, match="did you mean 'astronaut'"):
        data.load_image("builtin:astronot")
    with pytest.raises(rdpkit.InputError, match="does not exist"):
        data.load_image(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(rdpkit.InputError, match="cannot read"):
        data.load_image(tmp_path / "bad.png")


def test_folder_round_trip(tmp_path):
    x = data.load_images(["builtin:coffee", "builtin:rocket"], size=32)
    for i in range(2):
        data.save_png(x[i : i + 1], tmp_path / f"{i}.png")
    back = data.load_folder(tmp_path, size=32)
    assert torch.allclose(back, x, atol=1 / 255)
    (tmp_path / "empty").mkdir()
    with pytest.raises(rdpkit.InputError, match="holds no image files"):
        data.load_folder(tmp_path / "empty", size=32)


def test_digits_and_split():
    x, y = data.digits(return_labels=True)
    assert x.shape == (1797, 1, 8, 8) and float(x.max()) == 1.0 and y.shape == (1797,)
    a, b = data.split(x, [0.75, 0.25], seed=1)
    assert a.shape[0] + b.shape[0] == 1797 and abs(a.shape[0] - 0.75 * 1797) <= 1


def test_degradations_match_references():
    x = data.load_image("builtin:astronaut", size=64).double()
    blurred = degrade(x, "blur:2")
    ref = scipy.ndimage.gaussian_filter(x[0, 0].numpy(), 2, mode="mirror", truncate=3.5)
    assert np.allclose(blurred[0, 0].numpy(), ref, atol=1e-10)
    shifted = degrade(x, "shift:2")
    assert torch.equal(shifted[..., 2:, 2:], x[..., :-2, :-2])
    jpeg = degrade(x.float(), "jpeg:10")
    assert jpeg.shape == x.shape and 0 < float((jpeg - x.float()).abs().mean()) < 0.1
    noisy = degrade(x, "gaussian:0.1", seed=3)
    assert torch.equal(noisy, degrade(x, "gaussian:0.1", seed=3)) and 0 <= float(noisy.min())
    low = degrade(x, "contrast:0.5")
    assert float(low.std()) == pytest.approx(0.5 * float(x.std()), rel=0.02)
    with pytest.raises(rdpkit.InputError, match="did you mean 'blur'"):
        degrade(x, "blurr:2")
    with pytest.raises(rdpkit.InputError, match="numeric level"):
        degrade(x, "jpeg:high")


def test_16_bit_pngs_keep_their_range(tmp_path):
    from PIL import Image

    from rdpkit.data import load_image

    gradient = np.linspace(0, 65535, 256).astype(np.uint16)[None, :].repeat(4, 0)
    noise = np.random.default_rng(0).integers(0, 65536, (64, 64)).astype(np.uint16)
    for name, array in (("gradient", gradient), ("noise", noise)):
        Image.fromarray(array).save(tmp_path / f"{name}.png")
        x = load_image(tmp_path / f"{name}.png", gray=True)
        assert torch.allclose(x[0, 0].double(), torch.from_numpy(array / 65535.0), atol=1e-6), name
    assert load_image(tmp_path / "gradient.png", gray=True).unique().numel() == 256
    assert abs(float(load_image(tmp_path / "noise.png").mean()) - noise.mean() / 65535) < 1e-6


def test_the_source_grammar(tmp_path):
    from rdpkit.data import Source, load_source, save_png

    assert load_source("digits").shape == (1797, 1, 8, 8)
    assert load_source("builtin:china,flower", size=16).shape == (2, 3, 16, 16)
    assert Source.parse("builtin").kind == "builtin" and "china" in Source.parse("builtin").items
    for i in range(3):
        save_png(torch.full((1, 3, 8, 8), i / 4), tmp_path / "f" / f"{i}.png")
    folder = load_source(tmp_path / "f")
    assert folder.shape == (3, 3, 8, 8) and torch.allclose(folder.mean((1, 2, 3)), torch.tensor([0, 64, 128]) / 255, atol=1e-6)
    assert load_source(tmp_path / "f" / "1.png").shape == (1, 3, 8, 8)
    digest = Source.parse(tmp_path / "f").identity()
    save_png(torch.zeros(1, 3, 8, 8), tmp_path / "f" / "1.png")
    assert Source.parse(tmp_path / "f").identity() != digest, "a changed file changes the source's identity"
    for bad, message in (("builtin:astronot", "did you mean 'astronaut'"), (str(tmp_path / "nope"), "neither a file nor a folder"), ("", "must not be empty")):
        with pytest.raises(rdpkit.InputError, match=message):
            Source.parse(bad)


def test_the_held_out_photographs_are_never_training_ones():
    from rdpkit.data import HELD_OUT, PHOTOGRAPHS, TRAINING, Source

    assert set(HELD_OUT).isdisjoint(TRAINING) and set(HELD_OUT) | set(TRAINING) == set(PHOTOGRAPHS)
    assert Source.parse("builtin:held-out").items == HELD_OUT and Source.parse("builtin:training").items == TRAINING
