"""Telegram: thin handlers that turn updates into engine calls and replies into messages."""
