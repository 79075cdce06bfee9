"""ONNX detector adapters implementing reid_core.detect.Detector."""
