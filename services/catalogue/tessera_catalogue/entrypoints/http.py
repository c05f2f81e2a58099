"""HTTP API of the catalogue service."""

from fastapi import APIRouter

router = APIRouter()
