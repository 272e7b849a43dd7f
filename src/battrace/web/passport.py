"""HTTP endpoints of the battery passport (filled in by the passport work)."""

from fastapi import APIRouter

router = APIRouter()
