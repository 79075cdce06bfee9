"""Embedder adapters beyond the generic ONNX ReID one in reid_core.embed."""
