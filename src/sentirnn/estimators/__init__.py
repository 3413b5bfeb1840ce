"""The user-facing estimators (strings in, labels out).

SentimentClassifier, LanguageModel, MultiLabelClassifier, ensembles, self-training, tuning,
fine-tuning, presets.
"""
