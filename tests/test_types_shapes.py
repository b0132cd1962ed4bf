"""Tests of passthrough_client.types: frozen values, to_dict copies, equality, pickling."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any, Dict, Type

import attrs
import pytest
from wire_samples import ALL_TYPES, CHAT, MODEL, ROUND_TRIPS

from passthrough_client import types
from passthrough_client.types import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionMessage,
    Embedding,
    Model,
    Usage,
)


@pytest.mark.parametrize(("cls", "payload"), ROUND_TRIPS)
def test_instances_are_frozen(cls: Any, payload: Dict[str, Any]) -> None:
    """Assigning to any field raises FrozenInstanceError."""
    obj = cls.from_dict(payload)
    name = attrs.fields(cls)[-1].name

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(obj, name, None)


def test_changing_to_dict_result_does_not_change_the_object() -> None:
    """to_dict() returns a copy: editing it, even deep inside, leaves the object alone."""
    completion = ChatCompletion.from_dict(copy.deepcopy(CHAT))
    changed = completion.to_dict()
    changed["choices"][0]["message"]["content"] = "changed"
    changed["model"] = "changed"

    assert completion.to_dict() == CHAT
    assert CHAT["choices"][0]["message"] == completion.choices[0].message.to_dict()


def test_direct_construction_to_dict_omits_none_fields() -> None:
    """An object built directly serialises its non-None fields, nested objects included."""
    completion = ChatCompletion(
        id="c1",
        choices=(ChatCompletionChoice(index=0, message=ChatCompletionMessage(role="assistant")),),
        usage=Usage(total_tokens=3),
    )

    expected = {
        "id": "c1",
        "choices": [{"index": 0, "message": {"role": "assistant"}}],
        "usage": {"total_tokens": 3},
    }
    assert expected == completion.to_dict()


def test_direct_construction_to_dict_lists_tuples() -> None:
    """Tuples of an object built directly become JSON lists."""
    embedding = Embedding(index=0, embedding=(1.0, 2.0))

    assert embedding.to_dict() == {"index": 0, "embedding": [1.0, 2.0]}
    assert embedding == Embedding.from_dict(json.loads(json.dumps(embedding.to_dict())))


def test_evolve_serialises_the_new_fields() -> None:
    """An object changed with attrs.evolve serialises its fields, not the old received JSON."""
    model = attrs.evolve(Model.from_dict(MODEL), id="other")

    assert (model.to_dict()) == {
        "id": "other",
        "object": "model",
        "created": 1700000000,
        "owned_by": "vllm",
    }


def test_equality_compares_typed_fields_only() -> None:
    """An object from JSON equals one built directly with the same fields, vendor fields aside."""
    assert Model(id="llama-3.1-8b", object="model", created=1700000000, owned_by="vllm") == (
        Model.from_dict(MODEL)
    )


def test_repr_shows_fields_but_not_the_received_json() -> None:
    """repr lists the typed fields and leaves the received object out."""
    text = repr(Model.from_dict(MODEL))

    assert text == "Model(id='llama-3.1-8b', object='model', created=1700000000, owned_by='vllm')"


def test_objects_are_hashable_even_with_logprobs() -> None:
    """Equal objects hash alike; a logprobs object does not make them unhashable."""
    first, second = ChatCompletion.from_dict(CHAT), ChatCompletion.from_dict(copy.deepcopy(CHAT))

    assert hash(first) == hash(second)


@pytest.mark.parametrize(("cls", "payload"), ROUND_TRIPS)
def test_pickle_keeps_the_received_json(cls: Any, payload: Dict[str, Any]) -> None:
    """A pickled and unpickled object is equal and still gives back the received JSON."""
    obj = pickle.loads(pickle.dumps(cls.from_dict(payload)))

    assert (cls.from_dict(payload), payload) == (obj, obj.to_dict())


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted and names every public response type (and the metadata types)."""
    expected = sorted([cls.__name__ for cls in ALL_TYPES] + ["APIResponse", "HTTPInfo"])

    assert (expected, expected) == (types.__all__, sorted(types.__all__))


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda cls: cls.__name__)
def test_every_type_is_a_frozen_slotted_attrs_class(cls: Type[Any]) -> None:
    """Each public type is an attrs class with slots and a from_dict classmethod."""
    assert (
        attrs.has(cls),
        "__slots__" in cls.__dict__,
        callable(cls.from_dict),
    ) == (True, True, True)
