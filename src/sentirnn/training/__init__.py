"""The fit loops: classifier and language model.

With the learning-rate schedules and the runtime they need: threads, allocator, workers,
DDP rank, checkpoints.
"""
