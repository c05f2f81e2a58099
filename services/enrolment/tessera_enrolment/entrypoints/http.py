"""HTTP API of the enrolment service."""

from fastapi import APIRouter

router = APIRouter()
