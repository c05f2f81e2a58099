"""HTTP API of the credential service."""

from fastapi import APIRouter

router = APIRouter()
