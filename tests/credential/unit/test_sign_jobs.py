"""Sign jobs travel to the signing processes pickled (issuance/processes.py): a micro-credential's
definition goes as its JSON, once per chunk of jobs, and each process validates it once."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import pytest

from tessera_credential.issuance import processes
from tessera_credential.issuance.processes import SignJob
from tests.credential.unit.credential_document_testdata import definition, issuance

pytestmark = pytest.mark.unit


def jobs_of(*definitions) -> list[SignJob]:
    return [
        SignJob(issuance(serial=n, definition=d), "ugent.be", ("uva.nl", "unibo.it"))
        for d in definitions
        for n in (1, 2, 3)
    ]


def test_a_pickled_job_is_the_same_job(monkeypatch) -> None:
    monkeypatch.setattr(processes, "_received", OrderedDict())
    jobs = [*jobs_of(definition(True)), SignJob(issuance(joint=False, serial=4), "ugent.be", ())]
    assert pickle.loads(pickle.dumps(jobs)) == jobs


def test_a_definition_travels_once_per_chunk_and_is_validated_once_per_process(monkeypatch) -> None:
    monkeypatch.setattr(processes, "_received", OrderedDict())
    shared = definition(True, title={"en": "Data literacy"})
    data = pickle.dumps(jobs_of(shared))
    assert data.count(b"Data literacy") == 1  # three jobs, one copy of their definition
    first, again = pickle.loads(data), pickle.loads(pickle.dumps(jobs_of(shared)))
    assert len(processes._received) == 1  # validated once, then found by its bytes
    assert first[0].issuance.definition is again[2].issuance.definition == shared


def test_another_definition_is_another_entry(monkeypatch) -> None:
    monkeypatch.setattr(processes, "_received", OrderedDict())
    one, other = definition(True), definition(True, title={"en": "Applied data science, revised"})
    back = pickle.loads(pickle.dumps(jobs_of(one, other)))
    assert [j.issuance.definition for j in back] == [one] * 3 + [other] * 3
    assert len(processes._received) == 2


def test_what_is_kept_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(processes, "_received", OrderedDict())
    monkeypatch.setattr(processes, "_sent", OrderedDict())
    monkeypatch.setattr(processes, "DEFINITIONS_KEPT", 2)
    for n in range(4):
        pickle.loads(pickle.dumps(jobs_of(definition(True, title={"en": f"Version {n}"}))))
    assert len(processes._received) == 2 and len(processes._sent) == 2


def test_a_definition_whose_json_does_not_come_back_equal_travels_as_a_model(monkeypatch) -> None:
    # a worker that cannot unpickle a job breaks the pool (the whole batch): checked in the parent
    monkeypatch.setattr(processes, "_sent", OrderedDict())
    monkeypatch.setattr(processes, "_received", OrderedDict())
    odd = definition(True, title={"en": "Round trip refused"})

    def refuse(data, *args, **kwargs):
        raise ValueError("does not validate")

    monkeypatch.setattr(processes.MicroCredentialDefinition, "model_validate_json", refuse)
    jobs = jobs_of(odd)
    assert pickle.loads(pickle.dumps(jobs)) == jobs
    assert [data for _, data in processes._sent.values()] == [None] and not processes._received
