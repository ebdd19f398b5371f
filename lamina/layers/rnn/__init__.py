"""Recurrent layers: cells, the RNN loop, and the Bidirectional/TimeDistributed
wrappers."""
