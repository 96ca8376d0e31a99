"""Jobs admin page (filled in by the jobs work)."""

from fastapi import APIRouter

router = APIRouter()
