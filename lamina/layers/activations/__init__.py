"""Activation layers with arguments or weights: ReLU, LeakyReLU, PReLU, ELU,
Softmax."""
