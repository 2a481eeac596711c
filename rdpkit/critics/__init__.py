"""No-reference critics: does x look real? One score per image, lower is better.

``wgan``        the WGAN-GP critic (Gulrajani et al. 2017): a trainable critic whose held-out
                loss estimates W1 between two sample sets (Blau & Michaeli 2019, footnote 7)
``classifier``  a trainable real-vs-fake classifier; its held-out balanced accuracy bounds TV
``niqe``        NIQE (Mittal, Soundararajan & Bovik 2013), fitted on a pristine corpus
``net``         the network both trainable critics use
``trainable``   what the trainable critics share: lazy network, validation, training loop
"""
