"""The front end: decode, segment, separate speakers, window, features (one path for training and serving)."""
