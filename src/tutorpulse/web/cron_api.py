"""Cron trigger endpoints (filled in by the jobs work)."""

from fastapi import APIRouter

router = APIRouter()
