"""text → ids → batches.

Cleaning, tokenizing, vocabularies, encoding, batching, augmentation, word vectors.
"""
