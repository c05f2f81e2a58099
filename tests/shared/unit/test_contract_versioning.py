"""Contract versioning: a breaking change is a new .v2 type, stored v1 events upcast on load."""

import pytest

from tessera_shared.contract import Event, UnknownEventType, model_for, parse_data, upcaster
from tessera_shared.contract.envelope import Envelope

pytestmark = pytest.mark.unit


class GradeNotedV1(Event, type="tessera.kerneltest.grade.noted", version=1):
    learner: str
    grade: float  # 0-20


class GradeNotedV2(Event, type="tessera.kerneltest.grade.noted", version=2):
    learner_id: str
    normalised: float


@upcaster(GradeNotedV1.event_type, GradeNotedV2)
def _v1_to_v2(data: dict) -> dict:
    return {"learner_id": data["learner"], "normalised": data["grade"] / 20}


def test_stored_v1_event_loads_as_v2():
    event = parse_data("tessera.kerneltest.grade.noted.v1", {"learner": "l-1", "grade": 15})
    assert isinstance(event, GradeNotedV2)
    assert event == GradeNotedV2(learner_id="l-1", normalised=0.75)


def test_additive_fields_are_ignored_by_older_readers():
    event = parse_data(GradeNotedV2.event_type, {"learner_id": "l", "normalised": 0.5, "added_later": 1})
    assert event == GradeNotedV2(learner_id="l", normalised=0.5)


def test_type_names_follow_the_subject_convention_and_unknown_types_are_refused():
    assert GradeNotedV2.event_type == "tessera.kerneltest.grade.noted.v2"
    with pytest.raises(UnknownEventType):
        model_for("tessera.kerneltest.grade.noted.v9")
    with pytest.raises(ValueError):
        type("Bad", (Event,), {"__annotations__": {}}, type="kerneltest.bad")


def test_envelope_carries_cloudevents_attributes_and_extensions():
    env = Envelope.model_validate(
        {
            "id": "e1",
            "source": "/tessera/x",
            "type": GradeNotedV2.event_type,
            "subject": "agg-1",
            "time": "2026-01-01T00:00:00Z",
            "dataschema": "urn:tessera:contract:x",
            "streamversion": 3,
            "correlationid": "c",
            "causationid": "e0",
            "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
            "data": {"learner_id": "l", "normalised": 1.0},
        }
    )
    again = Envelope.from_bytes(env.to_bytes())
    assert again == env and again.specversion == "1.0" and again.streamversion == 3

