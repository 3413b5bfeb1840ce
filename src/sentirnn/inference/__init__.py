"""logits → answers.

The predictor, post-processing, calibration, sentence pooling, explanations, file scoring.
"""
