"""Embedding models: clips and queries -> vectors in one space (backends behind one interface)."""
