"""The front end: decode, segment, separate speakers, window, features.

One path from a recording to per-speaker windows, used by training and by serving.
"""
