"""How stores of an older schema are read: one function per trial kind and schema step.

Schema 1 (rdpkit before the trial layer) stored recovery and sweep trials as free-form dicts;
schema 2 is what `RecoveryTrial`/`RecoveryResult` and `SweepTrial`/`SweepResult` write. Each
function takes one stored (configuration, result) pair and returns it in the next schema. The
trial key is the hash of the configuration, so an upgraded trial gets a new key, and a sweep
resumed on an upgraded store finds its finished trials.
"""

from __future__ import annotations

from typing import Any

from .options import Component

Record = dict[str, Any]


def recovery_1_to_2(config: Record, result: Record | None) -> tuple[Record, Record | None]:
    """Schema 1 had no distortion options (and a redundant ``test`` field)."""
    config = {k: v for k, v in config.items() if k != "test"}
    config.setdefault("options", {})
    if result is not None:
        result = {**result, "options": result.get("options", {})}
    return config, result


def sweep_1_to_2(config: Record, result: Record | None) -> tuple[Record, Record | None]:
    """Schema 1 named the perception index ``critic`` (with ``critic_options``), or took the first divergence."""
    ev = dict(config["evaluate"])
    critic, critic_options = ev.pop("critic", ""), ev.pop("critic_options", {})
    divergences = list(ev.get("divergences", []))
    if critic:
        perception = str(Component(critic, dict(critic_options)))
    else:
        perception, divergences = divergences[0], divergences[1:]
    ev.update(perception=perception, divergences=divergences, critics=[])
    config = {**config, "evaluate": ev}
    if result is not None:
        result = dict(result)
        result["distortions"] = result.pop("distortion", {})
        result.setdefault("critics", {})
        estimates = dict(result.get("divergences", {}))
        if critic and perception != critic and critic in estimates:
            estimates[perception] = estimates.pop(critic)
        result["divergences"] = estimates
        result["perception"] = {**result["perception"], "name": perception, "kind": "divergence"}
        if "lam" in config["options"]:  # schema 1 knew one perception weight, the gan codec's `lam`
            result.update(perception_weight="lam", lam=config["options"]["lam"])
    return config, result


#: kind → the upgrade from schema 1 to schema 2.
FROM_SCHEMA_1 = {"recovery": recovery_1_to_2, "sweep": sweep_1_to_2}
