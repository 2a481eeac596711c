"""The reports are pages people open in a browser: render them in headless Chromium and look.

Every image must load and nothing may be wider than the window; at the widths people read
reports at (1280 px and up) every table fits its box too, since a box that scrolls shows its
right-hand columns to no one who does not think of scrolling it (headless Chromium shows no
scroll bar at all). At 800 px a wide table may scroll inside its own box, and its column
headings wrap at spaces and after `_ , = / -`, never inside a word (not `see|ds`, nor one
letter a line). Uses Debian's `chromium`, which `make test` installs where it can; elsewhere
these tests are skipped with that reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rdpkit.recovery.audit import audit
from rdpkit.recovery.report import write_report as write_audit
from rdpkit.sweep.config import SweepConfig
from rdpkit.sweep.report import write_report as write_sweep
from rdpkit.sweep.runner import run_sweep

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium; `make test` installs it where apt-get can)")

PROBE = """<script>
window.addEventListener('load', () => {
  const doc = document.documentElement;
  const images = [...document.images];
  const inScroll = e => e.closest('.scroll') !== null && e.closest('.scroll') !== e;
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => !inScroll(e) && e.getBoundingClientRect().right > doc.clientWidth + 1)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  const cut = [...document.querySelectorAll('.scroll')].filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.querySelector('th') ? e.querySelector('th').textContent + ': ' + e.scrollWidth + ' > ' + e.clientWidth : '?');
  // A column heading may wrap at spaces and after _ , = / - but never inside a word ('see|ds', one letter a line).
  const split = [];
  for (const th of document.querySelectorAll('th')) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      for (const m of t.data.matchAll(/\\S+/g)) {
        const r = document.createRange();
        r.setStart(t, m.index);
        r.setEnd(t, m.index + m[0].length);
        if (new Set([...r.getClientRects()].map(q => Math.round(q.top))).size > 1) split.push(m[0]);
      }
    }
  }
  const probe = document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = JSON.stringify({images: images.length, broken: images.filter(i => !i.complete || i.naturalWidth === 0).length,
                                      scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth, wide: wide.slice(0, 8), cut: cut,
                                      headings: split.slice(0, 8)});
  document.body.appendChild(probe);
});
</script>"""


def look(page: Path, width: int) -> dict:
    """What Chromium sees of `page` in a window `width` pixels wide."""
    probed = page.with_name(f"probed-{width}-{page.name}")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    profile = page.parent / f"chromium-profile-{width}"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", f"--window-size={width},900",
         "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, f"the page did not finish loading in Chromium: {dom[-500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    result = audit(["mse", "ssim"], images=["builtin:astronaut", "builtin:coffee"], inits=["noise", "jpeg:10"], size=32, steps=20,
                   device="cpu", store=out / "audit.sqlite", executor="inline", progress=False)
    # As wide as a preset's report: three codecs (a BD-rate table with reasons), secondary distortions and divergences.
    sweep = SweepConfig.from_dict({"data": {"source": "digits", "limit": 120},
                                   "codec": [{"name": "sq", "grid": {"levels": [2, 4, 16]}}, {"name": "jpeg", "grid": {"quality": [10, 50, 90]}},
                                             {"name": "webp", "grid": {"quality": [10, 50, 90]}}],
                                   "evaluate": {"distortions": ["mse", "charbonnier"], "perception": "wasserstein-sliced",
                                                "divergences": ["wasserstein-sliced", "mmd", "frechet"], "samples": 8}})
    run_sweep(sweep, out / "sweep.sqlite", executor="inline", progress=False)
    return {"audit": write_audit(result, out / "audit.html"), "sweep": write_sweep(out / "sweep.sqlite", out / "sweep")}


@pytest.mark.parametrize("report", ["audit", "sweep"])
@pytest.mark.parametrize("width", [1920, 1280, 800])
def test_every_image_loads_and_nothing_is_wider_than_the_window(pages, report, width):
    seen = look(pages[report], width)
    assert seen["images"] >= 3 and seen["broken"] == 0, seen
    assert seen["scrollWidth"] <= seen["clientWidth"], f"the page scrolls sideways at {width} px: {seen}"
    assert not seen["wide"], f"elements wider than the window at {width} px: {seen['wide']}"
    if width >= 1280:
        assert not seen["cut"], f"tables cut at the right of their box at {width} px: {seen['cut']}"
    else:
        assert not seen["headings"], f"column headings broken inside a word at {width} px: {seen['headings']}"
