"""Registry behaviour with in-process plugins: good, broken, unavailable, duplicated, misnamed."""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
import types

import pytest
import torch

import rdpkit
from rdpkit import Registry, Spec, hookimpl
from rdpkit.distortions import MSE
from rdpkit.testing import fresh_registry


class L1(rdpkit.Distortion):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def _distance(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return self.scale * (x - x_hat).abs().flatten(1).mean(1)


def plugin(name: str, **hooks: object) -> types.SimpleNamespace:
    """A plugin object whose hook functions return the given spec lists (or raise)."""
    ns = types.SimpleNamespace(__name__=name)
    for hook, value in hooks.items():
        def fn(value: object = value) -> object:
            if isinstance(value, BaseException):
                raise value
            return value

        fn.__name__ = hook
        setattr(ns, hook, hookimpl(fn))
    return ns


GOOD = plugin("good", rdpkit_distortions=[Spec("l1", L1, summary="mean absolute error", differentiable=True)])


def test_good_plugin_registers_and_creates_with_options():
    reg = fresh_registry(GOOD)
    assert "l1" in reg.names("distortion") and "mse" in reg.names("distortion")
    d = reg.create("distortion", "l1", scale=2.0)
    x = torch.zeros(2, 1, 4, 4)
    assert torch.equal(d(x, torch.full_like(x, 0.5)), torch.tensor([1.0, 1.0]))
    assert d.info.name == "l1" and d.info.distribution == "good" and d.info.differentiable
    rec = {r.name: r for r in reg.plugins}["good"]
    assert rec.status == "loaded" and rec.registered == ["distortion:l1"]


def test_broken_plugin_is_recorded_and_others_keep_working():
    broken = plugin("broken", rdpkit_distortions=RuntimeError("boom"), rdpkit_codecs=[Spec("c", L1)])
    reg = fresh_registry(GOOD, broken)
    rec = {r.name: r for r in reg.plugins}["broken"]
    assert rec.status == "failed" and "RuntimeError: boom" in rec.error and "rdpkit_distortions" in rec.error
    assert rec.registered == [] and "c" not in reg.names("codec")  # a failed plugin registers nothing
    assert reg.create("distortion", "l1") is not None


def test_unavailable_plugin_is_listed_as_unavailable():
    reg = fresh_registry(plugin("needs-x", rdpkit_critics=rdpkit.PluginUnavailable("needs package x; pip install x")))
    rec = {r.name: r for r in reg.plugins}["needs-x"]
    assert rec.status == "unavailable" and "pip install x" in rec.error


@pytest.mark.parametrize(
    "result, expect",
    [("not a list", "returned str"), ([object()], "is not an rdpkit.Spec"), ([Spec("Bad_Name", L1)], "lower-case")],
)
def test_malformed_hook_results_are_reported(result, expect):
    reg = fresh_registry(plugin("odd", rdpkit_distortions=result))
    rec = {r.name: r for r in reg.plugins}["odd"]
    assert expect in rec.error + " ".join(rec.problems)


def test_misnamed_hook_fails_with_suggestion():
    reg = fresh_registry(plugin("typo", rdpkit_distortion=[Spec("l1", L1)]))
    rec = {r.name: r for r in reg.plugins}["typo"]
    assert rec.status == "failed" and "rdpkit_distortions" in rec.error


def test_duplicate_name_is_ambiguous_and_qualified_names_work():
    other = plugin("other", rdpkit_distortions=[Spec("l1", MSE)])
    reg = fresh_registry(GOOD, other)
    with pytest.raises(rdpkit.AmbiguousNameError, match=r"good.*other|other.*good"):
        reg.create("distortion", "l1")
    assert isinstance(reg.create("distortion", "good:l1"), L1)
    assert isinstance(reg.create("distortion", "other:l1"), MSE)
    assert {"good:l1", "other:l1"} <= set(reg.names("distortion"))


def test_unknown_names_suggest_close_ones_and_wrong_kinds():
    reg = fresh_registry()
    with pytest.raises(rdpkit.UnknownNameError, match="did you mean 'ssim'"):
        reg.create("distortion", "ssmi")
    with pytest.raises(rdpkit.UnknownNameError, match="'mse' is a distortion, not a codec"):
        reg.create("codec", "mse")
    with pytest.raises(rdpkit.InputError, match="kind must be one of"):
        reg.names("metric")


def test_unknown_option_lists_accepted_ones():
    reg = fresh_registry(GOOD)
    with pytest.raises(rdpkit.InputError, match="has no option 'scael'; did you mean 'scale'"):
        reg.create("distortion", "l1", scael=2)


def test_factory_errors_become_one_sentence():
    bad_module = plugin("bad", rdpkit_distortions=[Spec("gone", "no_such_module_xyz:Thing")])
    wrong_type = plugin("wrong", rdpkit_distortions=[Spec("notone", lambda: object())])
    reg = fresh_registry(bad_module, wrong_type)
    with pytest.raises(rdpkit.PluginError, match="cannot be loaded.*reinstall"):
        reg.create("distortion", "gone")
    with pytest.raises(rdpkit.PluginError, match="not an rdpkit Distortion"):
        reg.create("distortion", "notone")


def test_entry_point_discovery_isolates_broken_plugins(monkeypatch):
    eps = [
        md.EntryPoint("builtin", "rdpkit.builtin", "rdpkit"),
        md.EntryPoint("broken", "no_such_plugin_module_xyz", "rdpkit"),
    ]
    monkeypatch.setattr(md, "entry_points", lambda group: eps if group == "rdpkit" else [])
    reg = Registry()
    recs = {r.name: r for r in reg.plugins}
    assert recs["builtin"].status == "loaded"
    assert recs["broken"].status == "failed" and "ModuleNotFoundError" in recs["broken"].error
    assert "mse" in reg.names("distortion")
    with pytest.raises(rdpkit.UnknownNameError, match="did not load: broken"):
        reg.create("distortion", "nope")


def test_default_registry_finds_the_builtins_through_the_entry_point():
    infos = {i.name: i for i in rdpkit.get_registry().infos("distortion")}
    assert {"mse", "ssim", "ms-ssim"} <= set(infos)
    assert infos["ssim"].distribution == "rdpkit" and infos["ssim"].plugin == "builtin"
    assert rdpkit.available("distortion") == rdpkit.get_registry().names("distortion")


def test_import_and_listing_load_nothing_heavy():
    code = (
        "import sys, rdpkit\n"
        "assert 'torch' not in sys.modules, 'import rdpkit imported torch'\n"
        "rdpkit.get_registry().infos()\n"
        "heavy = [m for m in ('torch', 'rdpkit.distortions', 'pyiqa', 'lpips', 'timm') if m in sys.modules]\n"
        "assert not heavy, f'listing imported {heavy}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugin_fixtures_give_a_fresh_registry_and_refuse_the_network(rdpkit_registry, no_network):
    import socket

    assert "ssim" in rdpkit_registry.names("distortion") and rdpkit_registry is not rdpkit.get_registry()
    with socket.socket() as s, pytest.raises(AssertionError, match="network connection was attempted"):
        s.connect(("127.0.0.1", 9))


@pytest.mark.parametrize(
    "kind, name, options, message",
    [
        ("distortion", "ssim", {"foo": 1}, "distortion 'ssim' has no option 'foo'; it takes no options."),
        ("divergence", "mmd", {"bandwidth": "abc"}, "option 'bandwidth' of divergence 'mmd' must be a number or None, got 'abc'."),
        ("critic", "niqe", {"patch": "x"}, "option 'patch' of critic 'niqe' must be an integer, got 'x'."),
        ("codec", "jpeg", {"quality": 5.5}, "option 'quality' of codec 'jpeg' must be an integer, got 5.5."),
        ("codec", "webp", {"lossless": 1}, "option 'lossless' of codec 'webp' must be true or false, got 1."),
    ],
)
def test_every_kind_refuses_unknown_options_and_wrong_types_alike(kind, name, options, message):
    with pytest.raises(rdpkit.InputError) as info:
        rdpkit.get_registry().create(kind, name, **options)
    assert str(info.value) == message
