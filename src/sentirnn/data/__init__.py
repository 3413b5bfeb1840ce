"""raw rows → Examples.

File readers, the dataset and its report, splits, the demo corpus, output tables.
"""
