"""rdpkit-gan-codec: the encoder–quantiser–stochastic-decoder codec of Blau & Michaeli (ICML 2019, §4).

Registered as the rdpkit codec ``gan``; `rdpkit_gan_codec.codec.GanCodec` is the class. This
package imports nothing heavy, so `rdpkit list` stays fast.
"""
