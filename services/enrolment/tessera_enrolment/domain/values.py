"""Input value types of the enrolment service."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# European Student Identifier: urn:schac:personalUniqueCode:int:esi:<country or SCHAC home org>:<code>
ESI_PATTERN = r"^urn:schac:personalUniqueCode:int:esi:[A-Za-z0-9.-]+:\S+$"
Esi = Annotated[str, Field(pattern=ESI_PATTERN, max_length=200, description="European Student Identifier (URN)")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
