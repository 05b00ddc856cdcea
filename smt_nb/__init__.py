"""Supervised Memory Training: train nonlinear RNNs without backpropagation through time, taught in notebooks"""

__version__ = "0.0.1"
