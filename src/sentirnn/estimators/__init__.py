"""The user-facing estimators (strings in, labels out).

SentimentClassifier (classifier.py, with its parts: classifier_config, fit_data, fitting,
model_dir, scoring), LanguageModel, MultiLabelClassifier, ensembles, self-training, tuning,
fine-tuning (finetune.py), presets; ``base.check_fitted`` is the not-fitted check they share.
"""
