"""Adapters: what touches the outside world (storage, calendars) on the domain's behalf."""

from __future__ import annotations
