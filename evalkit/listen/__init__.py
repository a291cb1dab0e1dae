"""Listening tests (MUSHRA, ITU-R BS.1534-3) built from a run folder, and their analysis.

``build`` writes a self-contained test under ``RUN/listening/test/``, ``serve`` collects each
listener's ratings into ``RUN/listening/ratings/``, ``analysis`` screens listeners and measures
how well each objective metric of the run agrees with them.
"""
