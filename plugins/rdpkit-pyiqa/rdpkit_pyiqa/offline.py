"""Building a pyiqa metric without touching the network.

pyiqa fetches weights from many places while it builds a metric: its own files through
``torch.hub.download_url_to_file``, torchvision and timm backbones through the torch hub
and the Hugging Face Hub, CLIP checkpoints through ``urllib``. Each of those looks in its
cache first and downloads only on a miss. `no_downloads` turns every such miss into
`rdpkit.WeightsUnavailable`, naming the file and the folder it belongs in, before any
connection is opened — so an offline machine gets one sentence at once instead of a
timeout and a traceback from deep inside pyiqa.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from rdpkit import WeightsUnavailable

# The patches below replace module attributes for the duration of one construction.
_LOCK = threading.Lock()


def _missing(metric: str, file: str, folder: str, source: str) -> WeightsUnavailable:
    what = f"the pretrained-weights file {file!r}, which is" if file else "pretrained-weights files that are"
    return WeightsUnavailable(
        f"{metric} needs {what} not in {folder}; "
        f"put {'it' if file else 'them'} there ({'it is' if file else 'they are'} published at {source}) or create the metric with download=True on a machine with network access."
    )


def _hf_request(exc: BaseException) -> tuple[str, str]:
    """The (repo_id, filename) that a failed Hugging Face Hub look-up asked for, read from its frames."""
    tb = exc.__traceback__
    found = ("", "")
    while tb is not None:
        local = tb.tb_frame.f_locals
        if isinstance(local.get("repo_id"), str) and isinstance(local.get("filename"), str):
            found = (local["repo_id"], local["filename"])
        tb = tb.tb_next
    return found


def _transformers_repo(exc: BaseException) -> str:
    """The repository a failed transformers ``from_pretrained`` asked for, read from its frames, or ''."""
    tb = exc.__traceback__
    while tb is not None:
        repo = tb.tb_frame.f_locals.get("pretrained_model_name_or_path")
        if isinstance(repo, str) and "transformers" in tb.tb_frame.f_code.co_filename:
            return repo
        tb = tb.tb_next
    return ""


def _in_chain(exc: BaseException, types: tuple[type[BaseException], ...]) -> BaseException | None:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, types):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None


@contextmanager
def no_downloads(metric: str) -> Iterator[None]:
    """Within the block, any weights download raises WeightsUnavailable instead of connecting."""
    import huggingface_hub.constants as hf_constants
    import torch.hub
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    import pyiqa.utils.download_util as pyiqa_download

    def refuse_url(url: str, dst: str, *args: Any, **kwargs: Any) -> None:
        raise _missing(metric, os.path.basename(urlparse(url).path), os.path.dirname(os.path.abspath(dst)), url)

    def refuse_urlopen(url: Any, *args: Any, **kwargs: Any) -> None:
        url = getattr(url, "full_url", url)
        # pyiqa's CLIP loaders save into ~/.cache/clip before opening the URL.
        raise _missing(metric, os.path.basename(urlparse(url).path), os.path.expanduser("~/.cache/clip"), url)

    patches = [
        (torch.hub, "download_url_to_file", refuse_url),
        (pyiqa_download, "download_url_to_file", refuse_url),
        (urllib.request, "urlopen", refuse_urlopen),
        (hf_constants, "HF_HUB_OFFLINE", True),
    ]
    with _LOCK:
        saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
        try:
            for obj, attr, value in patches:
                setattr(obj, attr, value)
            yield
        except Exception as exc:
            # transformers re-raises Hub misses as OSError; the Hub's own error is in the chain.
            hub_miss = _in_chain(exc, (LocalEntryNotFoundError, OfflineModeIsEnabled))
            if hub_miss is not None:
                repo, file = _hf_request(hub_miss)
            elif isinstance(exc, OSError) and not isinstance(exc, WeightsUnavailable) and _transformers_repo(exc):
                # Some transformers loaders drop the Hub's error and raise a bare OSError.
                repo, file = _transformers_repo(exc), ""
            else:
                raise
            where = f"{hf_constants.HF_HUB_CACHE} (the Hugging Face cache)"
            raise _missing(metric, file, where, f"the Hugging Face Hub repository {repo}" if repo else "the Hugging Face Hub") from None
        finally:
            for obj, attr, value in saved:
                setattr(obj, attr, value)
