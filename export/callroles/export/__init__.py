"""ONNX export, the scorer used by workers, and the default model."""
