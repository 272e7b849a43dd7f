"""Server-rendered pages of the web application (filled in by the web application work)."""

from fastapi import APIRouter

router = APIRouter()
