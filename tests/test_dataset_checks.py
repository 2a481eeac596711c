"""Every image of a dataset is read once, before any coding (issue 23, item 13; item 17's kodak hints).

A file that does not read — damaged, no image, a decompression bomb, more pixels than the codecs
decode, a folder or a link loop named like an image — is one sentence when it is the image asked
for, and a warning naming it and why when it is one file of a set, whose other images still run.
An image smaller than a patch adds no patch instead of failing the set.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import rdpkit
from rdpkit.bitstream import MAX_PIXELS
from rdpkit.cli import cli
from rdpkit.data import load_image, save_png
from rdpkit.datasets import SkippedImage, dataset
from rdpkit.evaluate import evaluate
from rdpkit.patches import patches


def _png_header(width: int, height: int) -> bytes:
    """A PNG that announces width×height pixels and holds none: Pillow reads its size without decoding a pixel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _photo(path: Path, size: tuple[int, int]) -> Path:
    return save_png(load_image("builtin:astronaut", size=size), path)


def _bad_files(folder: Path) -> dict[str, str]:
    """One file of every kind that does not read, in `folder`: name → what its sentence says."""
    folder.mkdir(parents=True, exist_ok=True)
    good = _photo(folder / "good-source.png", (64, 64)).read_bytes()
    (folder / "good-source.png").unlink()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "text.png").write_text("not an image")
    (folder / "bomb.png").write_bytes(_png_header(100_000, 100_000))  # Pillow itself refuses: more than twice its limit
    side = int((Image.MAX_IMAGE_PIXELS * 1.5) ** 0.5)  # Pillow only warns here, then decodes every pixel
    (folder / "band.png").write_bytes(_png_header(side, side))
    side = int((MAX_PIXELS * 1.5) ** 0.5)  # more than a decoder makes by default: coded, then refused by its own decoder
    (folder / "huge.png").write_bytes(_png_header(side, side))
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "folder.png").mkdir()
    return {"truncated.png": "damaged or truncated", "text.png": "cannot read", "bomb.png": "decompression bombs",
            "band.png": "decompression bombs", "huge.png": "decoders make from one bitstream by default", "loop.png": "symbolic link", "folder.png": "is a folder"}


def test_every_unreadable_file_is_one_sentence(tmp_path):
    for name, says in _bad_files(tmp_path).items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Pillow's bomb warning is no way to say it either
            with pytest.raises(rdpkit.InputError, match=says) as caught:
                load_image(tmp_path / name, codable=True)
        assert name in str(caught.value) and "\n" not in str(caught.value)
    assert load_image(_photo(tmp_path / "fine.png", (64, 64)), codable=True).shape == (1, 3, 64, 64)


def test_score_refuses_a_decompression_bomb_in_one_sentence(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_header(100_000, 100_000))
    out = CliRunner().invoke(cli, ["score", "--image", str(tmp_path / "bomb.png"), "--distortion", "mse"])
    assert out.exit_code == 2 and "decompression bombs" in out.output and "Traceback" not in out.output


def test_unreadable_files_are_skipped_before_any_coding_and_the_rest_run(tmp_path):
    folder = tmp_path / "images"
    bad = _bad_files(folder)
    _photo(folder / "a.png", (256, 320))
    _photo(folder / "b.png", (256, 320))
    _photo(folder / "tiny.png", (1, 1))  # holds no 256² patch: adds none to FID and KID rather than failing every setting
    with pytest.warns(SkippedImage) as skipped:
        ev = evaluate(["jpeg,quality=[30,60]"], str(folder), distortions=[], features="nss,patch=32", store=tmp_path / "s.sqlite",
                      executor="inline", progress=False)
    said = [str(w.message) for w in skipped if issubclass(w.category, SkippedImage)]
    assert len(said) == len(bad) and all(any(name in s and why in s for s in said) for name, why in bad.items())
    assert not ev.failed and ev.summary.ran == 2
    assert ev.dataset.images == tuple(str(folder / n) for n in ("a.png", "b.png", "tiny.png"))
    assert [r.image for r in ev.curves["jpeg"][0][1].images] == ["a.png", "b.png", "tiny.png"]
    assert ev.curves["jpeg"][0][1].patch_scores.patches == 2
    assert {f"image {name}" for name in bad} <= set(ev.left_out)


def test_with_no_features_a_bad_file_fails_nothing(tmp_path):
    folder = tmp_path / "images"
    _photo(folder / "a.png", (64, 64))
    (folder / "b.png").write_text("not an image")
    with pytest.warns(SkippedImage, match="b.png"):
        ev = evaluate(["jpeg,quality=[30,60]"], str(folder), distortions=[], features=None, store=tmp_path / "s.sqlite",
                      executor="inline", progress=False)
    assert not ev.failed and ev.summary.ran == 2


def test_the_command_says_each_skipped_file_in_one_line(tmp_path):
    folder = tmp_path / "images"
    _photo(folder / "a.png", (64, 64))
    (folder / "b.png").write_text("not an image")
    out = CliRunner().invoke(cli, ["evaluate", "--codec", "jpeg,quality=[30]", "--data", str(folder), "--features", "none", "--distortion", "mse",
                                   "--out", str(tmp_path / "out"), "--executor", "inline"])
    assert out.exit_code == 0, out.output
    assert "warning: skipping b.png of " in out.output and "cannot read" in out.output and "SkippedImage" not in out.output


def test_no_readable_image_is_one_sentence_before_any_trial(tmp_path):
    folder = tmp_path / "images"
    (folder / "a.png").parent.mkdir()
    (folder / "a.png").write_text("not an image")
    with pytest.warns(SkippedImage), pytest.raises(rdpkit.InputError, match="none of the 1 image\\(s\\) of .* can be read; the first: cannot read"):
        evaluate(["jpeg"], str(folder), distortions=[], features=None, store=tmp_path / "s.sqlite", executor="inline", progress=False)
    assert not (tmp_path / "s.sqlite").exists()


def test_fewer_patches_than_fid_and_kid_need_is_a_warning_up_front(tmp_path):
    folder = tmp_path / "images"
    _photo(folder / "a.png", (256, 320))
    _photo(folder / "b.png", (256, 320))
    with pytest.warns(UserWarning, match="hold 2 patches of 256×256, fewer than the 50 FID and KID need"):
        evaluate(["jpeg,quality=[30]"], str(folder), distortions=[], features="nss,patch=32", store=tmp_path / "s.sqlite",
                 executor="inline", progress=False)


def test_an_image_smaller_than_a_patch_adds_none():
    x = torch.rand(1, 3, 300, 300)
    assert patches(torch.rand(1, 3, 1, 1)).shape == (0, 3, 256, 256)
    assert torch.cat([patches(x), patches(torch.rand(1, 3, 8, 8))]).shape == (1, 3, 256, 256)


def test_kodak_in_capitals_or_one_folder_up_gets_a_hint(tmp_path):
    kodak = tmp_path / "data" / "kodak"
    for i in range(1, 25):  # flat images: the layout reads only the headers
        save_png(torch.full((1, 3, 512, 768), 0.5), kodak / f"KODIM{i:02d}.PNG")
    with pytest.raises(rdpkit.InputError, match="holds KODIM01.PNG …: rename the files in lower case"):
        dataset(f"kodak:{kodak}")
    for i in range(1, 25):
        (kodak / f"KODIM{i:02d}.PNG").rename(kodak / f"kodim{i:02d}.png")
    with pytest.raises(rdpkit.InputError, match=f"but '{kodak}' below it holds them: give kodak:{kodak}"):
        dataset(f"kodak:{tmp_path / 'data'}")
    assert len(dataset(f"kodak:{kodak}").images) == 24
