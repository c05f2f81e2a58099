"""HTTP API of the assessment service."""

from fastapi import APIRouter

router = APIRouter()
