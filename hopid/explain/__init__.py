"""Offline explanations (EntityCLIP) written by an LLM behind an OpenAI-compatible endpoint."""
