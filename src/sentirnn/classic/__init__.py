"""Models without a recurrent network: the scikit-learn baselines and the NumPy reference RNN."""
