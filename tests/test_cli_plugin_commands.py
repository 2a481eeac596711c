"""Plugin commands under `rdpkit` (hook rdpkit_commands), their old script names, and the command line a record keeps."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

import rdpkit
from rdpkit import hookimpl
from rdpkit.cli import cli
from rdpkit.cli.plugin_commands import command_line, renamed
from rdpkit.testing import fresh_registry


@click.group()
def hello() -> None:
    """A plugin's group."""


@hello.command()
@click.option("--name", default="world")
@click.option("--loud/--quiet", default=False)
@click.option("--tag", multiple=True)
def greet(name: str, loud: bool, tag: tuple[str, ...]) -> None:
    click.echo(f"hello {name}" + ("!" if loud else ""))
    click.echo(command_line())


class Greeter:
    calls = 0

    @hookimpl
    def rdpkit_commands(self, cli):
        Greeter.calls += 1
        cli.add_command(hello, "hello")


class Clobber:
    """A plugin that tries to take over a name of rdpkit's own."""

    @hookimpl
    def rdpkit_commands(self, cli):
        @cli.command("list")
        def fake_list() -> None:
            click.echo("not rdpkit's list")


class Broken:
    @hookimpl
    def rdpkit_commands(self, cli):
        cli.add_command(hello, "half-added")  # added before the hook raised: not kept
        raise RuntimeError("kaput")


@pytest.fixture
def registry(monkeypatch):
    reg = fresh_registry()
    monkeypatch.setattr(rdpkit.registry, "_default", reg)
    Greeter.calls = 0
    return reg


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_plugin_command_runs_under_rdpkit_and_is_listed(registry):
    registry.register(Greeter(), "greeter", distribution="rdpkit-greeter")
    res = run("hello", "greet", "--name", "you")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "hello you"
    assert "hello" in run("--help").output


def test_builtin_commands_do_not_load_plugin_commands(registry):
    registry.register(Greeter(), "greeter", distribution="rdpkit-greeter")
    assert run("list", "codec").exit_code == 0
    assert Greeter.calls == 0


def test_rdpkit_names_win_over_a_plugin_command(registry):
    registry.register(Clobber(), "clobber", distribution="rdpkit-clobber")
    res = run("list", "codec")
    assert res.exit_code == 0 and "not rdpkit's list" not in res.output


def test_a_command_hook_that_raises_is_a_failed_plugin_and_rdpkit_still_runs(registry):
    registry.register(Broken(), "broken", distribution="rdpkit-broken")
    registry.register(Greeter(), "greeter", distribution="rdpkit-greeter")
    assert run("hello", "greet").output.startswith("hello world")
    assert run("half-added", "greet").exit_code != 0
    plugins = run("plugins", "--json")
    assert plugins.exit_code == 0
    assert '"status": "failed"' in plugins.output and "rdpkit_commands() raised RuntimeError: kaput" in plugins.output
    listing = run("list")
    assert listing.exit_code == 0 and "1 plugin(s) did not load (broken)" in listing.output
    assert run("--help").exit_code == 0


def test_the_old_script_name_says_the_new_one_then_runs_it(registry, monkeypatch, capsys):
    registry.register(Greeter(), "greeter", distribution="rdpkit-greeter")
    monkeypatch.setattr("sys.argv", ["rdpkit-hello", "greet", "--name", "old"])
    with pytest.raises(SystemExit) as done:
        renamed("rdpkit-hello", "hello")()
    assert done.value.code == 0
    out, err = capsys.readouterr()
    assert err == "rdpkit-hello is now `rdpkit hello`\n"
    assert out.splitlines() == ["hello old", "rdpkit hello greet --name old"]


def test_the_command_line_names_the_options_given_and_not_the_defaults(registry):
    registry.register(Greeter(), "greeter", distribution="rdpkit-greeter")
    res = run("hello", "greet", "--loud", "--tag", "a b", "--tag", "c")
    assert res.output.splitlines()[1] == "rdpkit hello greet --loud --tag 'a b' --tag c"
    res = run("hello", "greet", "--quiet")
    assert res.output.splitlines()[1] == "rdpkit hello greet --quiet"
