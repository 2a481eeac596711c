"""rdpkit's built-in codecs (baselines), one module each, registered in rdpkit.builtin.

- ``jpeg``: JPEG through Pillow (jpeg.py)
- ``webp``: WebP through Pillow (webp.py)
- ``sq``: uniform scalar quantiser of pixels with adaptive range coding (scalar.py)

The one measurement of a codec (measure.py: x → bytes → x̂ and the rate from those bytes).
Shared pieces: the Pillow framing (pillow.py), integer-table entropy coding with constriction
(entropy.py, also used by learned codecs), header and option checks (headers.py, options.py).
"""
