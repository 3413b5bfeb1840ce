"""ONNX export (fp32 and int8) and the ONNX predictor."""
