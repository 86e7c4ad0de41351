"""The paper's dataset builder (DBAS), CRNN training and evaluation."""
