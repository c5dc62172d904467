from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_OK: _ClassVar[Outcome]
    OUTCOME_INVALID_INPUT: _ClassVar[Outcome]
    OUTCOME_ERROR: _ClassVar[Outcome]
    OUTCOME_TIMEOUT: _ClassVar[Outcome]
    OUTCOME_NOT_APPLICABLE: _ClassVar[Outcome]
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_OK: Outcome
OUTCOME_INVALID_INPUT: Outcome
OUTCOME_ERROR: Outcome
OUTCOME_TIMEOUT: Outcome
OUTCOME_NOT_APPLICABLE: Outcome

class ChatMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ...) -> None: ...

class Content(_message.Message):
    __slots__ = ("text", "messages")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    text: str
    messages: Conversation
    def __init__(self, text: _Optional[str] = ..., messages: _Optional[_Union[Conversation, _Mapping]] = ...) -> None: ...

class Sample(_message.Message):
    __slots__ = ("prompt", "completion", "reference_json", "completion_ids")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_JSON_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_IDS_FIELD_NUMBER: _ClassVar[int]
    prompt: Content
    completion: Content
    reference_json: str
    completion_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, prompt: _Optional[_Union[Content, _Mapping]] = ..., completion: _Optional[_Union[Content, _Mapping]] = ..., reference_json: _Optional[str] = ..., completion_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class VerifierSpec(_message.Message):
    __slots__ = ("name", "kind", "config_json", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    config_json: str
    description: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., config_json: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("name", "spec", "samples", "index_offset")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    INDEX_OFFSET_FIELD_NUMBER: _ClassVar[int]
    name: str
    spec: VerifierSpec
    samples: _containers.RepeatedCompositeFieldContainer[Sample]
    index_offset: int
    def __init__(self, name: _Optional[str] = ..., spec: _Optional[_Union[VerifierSpec, _Mapping]] = ..., samples: _Optional[_Iterable[_Union[Sample, _Mapping]]] = ..., index_offset: _Optional[int] = ...) -> None: ...

class ScoreResult(_message.Message):
    __slots__ = ("index", "score", "outcome", "reason", "components", "details_json", "latency_ms")
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    index: int
    score: float
    outcome: Outcome
    reason: str
    components: _containers.ScalarMap[str, float]
    details_json: str
    latency_ms: float
    def __init__(self, index: _Optional[int] = ..., score: _Optional[float] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., reason: _Optional[str] = ..., components: _Optional[_Mapping[str, float]] = ..., details_json: _Optional[str] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("results", "verifier")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScoreResult]
    verifier: str
    def __init__(self, results: _Optional[_Iterable[_Union[ScoreResult, _Mapping]]] = ..., verifier: _Optional[str] = ...) -> None: ...

class VerifierInfo(_message.Message):
    __slots__ = ("spec", "version", "created_at_unix_s", "builtin")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_S_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    spec: VerifierSpec
    version: int
    created_at_unix_s: float
    builtin: bool
    def __init__(self, spec: _Optional[_Union[VerifierSpec, _Mapping]] = ..., version: _Optional[int] = ..., created_at_unix_s: _Optional[float] = ..., builtin: _Optional[bool] = ...) -> None: ...

class RegisterVerifierRequest(_message.Message):
    __slots__ = ("spec", "dry_run")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    spec: VerifierSpec
    dry_run: bool
    def __init__(self, spec: _Optional[_Union[VerifierSpec, _Mapping]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class GetVerifierRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListVerifiersRequest(_message.Message):
    __slots__ = ("all_versions",)
    ALL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    all_versions: bool
    def __init__(self, all_versions: _Optional[bool] = ...) -> None: ...

class ListVerifiersResponse(_message.Message):
    __slots__ = ("verifiers",)
    VERIFIERS_FIELD_NUMBER: _ClassVar[int]
    verifiers: _containers.RepeatedCompositeFieldContainer[VerifierInfo]
    def __init__(self, verifiers: _Optional[_Iterable[_Union[VerifierInfo, _Mapping]]] = ...) -> None: ...

class DeleteVerifierRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteVerifierResponse(_message.Message):
    __slots__ = ("deleted_versions",)
    DELETED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    deleted_versions: int
    def __init__(self, deleted_versions: _Optional[int] = ...) -> None: ...

class GetCapabilitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Capabilities(_message.Message):
    __slots__ = ("server_version", "kinds", "languages", "sandbox_backends", "judge_backends", "max_samples_per_request", "max_message_bytes", "builtin_verifiers", "sandbox_python_packages")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_BACKENDS_FIELD_NUMBER: _ClassVar[int]
    JUDGE_BACKENDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SAMPLES_PER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_VERIFIERS_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_PYTHON_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    sandbox_backends: _containers.RepeatedScalarFieldContainer[str]
    judge_backends: _containers.RepeatedScalarFieldContainer[str]
    max_samples_per_request: int
    max_message_bytes: int
    builtin_verifiers: _containers.RepeatedScalarFieldContainer[str]
    sandbox_python_packages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server_version: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., sandbox_backends: _Optional[_Iterable[str]] = ..., judge_backends: _Optional[_Iterable[str]] = ..., max_samples_per_request: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., builtin_verifiers: _Optional[_Iterable[str]] = ..., sandbox_python_packages: _Optional[_Iterable[str]] = ...) -> None: ...
