"""The networks: tensors in, tensors out. ``build_net`` maps a config to a module."""

from __future__ import annotations

from torch import nn

from sentirnn.config import ModelConfig, check_choice
from sentirnn.models.classifier_net import ClassifierNet
from sentirnn.models.cnn import TextCNNNet
from sentirnn.models.language_model_net import LanguageModelConfig, LanguageModelNet
from sentirnn.models.pooling import POOLINGS
from sentirnn.models.rnn import CELLS

__all__ = ["build_net", "ClassifierNet", "LanguageModelConfig", "LanguageModelNet",
           "TextCNNNet"]


def build_net(config: ModelConfig) -> nn.Module:
    """The one place that maps a ModelConfig to a network class."""
    check_choice("ModelConfig", "cell", config.cell, (*CELLS, "cnn"))
    if config.cell == "cnn":  # TextCNN: max-over-time pooling is part of the net
        return TextCNNNet(config)
    check_choice("ModelConfig", "pooling", config.pooling, POOLINGS)
    return ClassifierNet(config)
