"""The networks: tensors in, tensors out. ``build_net`` maps a config to a module."""

from __future__ import annotations

from torch import nn

from sentirnn.config import ModelConfig, check_choice
from sentirnn.models.classifier_net import ClassifierNet
from sentirnn.models.clstm import CLSTMNet
from sentirnn.models.cnn import TextCNNNet
from sentirnn.models.language_model_net import LanguageModelConfig, LanguageModelNet
from sentirnn.models.pooling import POOLINGS
from sentirnn.models.rcnn import RCNNNet
from sentirnn.models.rnn import CELLS

__all__ = ["build_net", "ClassifierNet", "CLSTMNet", "LanguageModelConfig", "LanguageModelNet",
           "RCNNNet", "TextCNNNet"]

HYBRIDS = {"clstm": CLSTMNet, "rcnn": RCNNNet}  # ModelConfig.hybrid → net


def build_net(config: ModelConfig) -> nn.Module:
    """The one place that maps a ModelConfig to a network class."""
    check_choice("ModelConfig", "cell", config.cell, (*CELLS, "cnn"))
    check_choice("ModelConfig", "hybrid", config.hybrid, (None, *HYBRIDS))
    if config.hybrid is not None:  # C-LSTM and RCNN need a recurrent cell
        check_choice("ModelConfig", "cell", config.cell, tuple(CELLS))
    if config.cell == "cnn":  # TextCNN: max-over-time pooling is part of the net
        return TextCNNNet(config)
    if config.hybrid == "rcnn":  # max over words is part of the net
        return RCNNNet(config)
    check_choice("ModelConfig", "pooling", config.pooling, POOLINGS)
    return CLSTMNet(config) if config.hybrid == "clstm" else ClassifierNet(config)
