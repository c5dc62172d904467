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

class CellStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CELL_STATUS_UNSPECIFIED: _ClassVar[CellStatus]
    CELL_STATUS_OK: _ClassVar[CellStatus]
    CELL_STATUS_ERROR: _ClassVar[CellStatus]
    CELL_STATUS_TIMEOUT: _ClassVar[CellStatus]
    CELL_STATUS_LOST: _ClassVar[CellStatus]
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_OK: Outcome
OUTCOME_INVALID_INPUT: Outcome
OUTCOME_ERROR: Outcome
OUTCOME_TIMEOUT: Outcome
OUTCOME_NOT_APPLICABLE: Outcome
CELL_STATUS_UNSPECIFIED: CellStatus
CELL_STATUS_OK: CellStatus
CELL_STATUS_ERROR: CellStatus
CELL_STATUS_TIMEOUT: CellStatus
CELL_STATUS_LOST: CellStatus

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
    __slots__ = ("server_version", "kinds", "languages", "sandbox_backends", "judge_backends", "max_samples_per_request", "max_message_bytes", "builtin_verifiers", "sandbox_python_packages", "sessions")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_BACKENDS_FIELD_NUMBER: _ClassVar[int]
    JUDGE_BACKENDS_FIELD_NUMBER: _ClassVar[int]
    MAX_SAMPLES_PER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_VERIFIERS_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_PYTHON_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    sandbox_backends: _containers.RepeatedScalarFieldContainer[str]
    judge_backends: _containers.RepeatedScalarFieldContainer[str]
    max_samples_per_request: int
    max_message_bytes: int
    builtin_verifiers: _containers.RepeatedScalarFieldContainer[str]
    sandbox_python_packages: _containers.RepeatedScalarFieldContainer[str]
    sessions: SessionCapabilities
    def __init__(self, server_version: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., sandbox_backends: _Optional[_Iterable[str]] = ..., judge_backends: _Optional[_Iterable[str]] = ..., max_samples_per_request: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., builtin_verifiers: _Optional[_Iterable[str]] = ..., sandbox_python_packages: _Optional[_Iterable[str]] = ..., sessions: _Optional[_Union[SessionCapabilities, _Mapping]] = ...) -> None: ...

class SessionCapabilities(_message.Message):
    __slots__ = ("languages", "max_sessions", "max_sessions_per_client", "max_fork", "max_session_trees", "max_limits")
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSIONS_PER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    MAX_FORK_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSION_TREES_FIELD_NUMBER: _ClassVar[int]
    MAX_LIMITS_FIELD_NUMBER: _ClassVar[int]
    languages: _containers.RepeatedScalarFieldContainer[str]
    max_sessions: int
    max_sessions_per_client: int
    max_fork: int
    max_session_trees: int
    max_limits: SessionLimits
    def __init__(self, languages: _Optional[_Iterable[str]] = ..., max_sessions: _Optional[int] = ..., max_sessions_per_client: _Optional[int] = ..., max_fork: _Optional[int] = ..., max_session_trees: _Optional[int] = ..., max_limits: _Optional[_Union[SessionLimits, _Mapping]] = ...) -> None: ...

class SessionLimits(_message.Message):
    __slots__ = ("cell_wall_time_s", "cell_cpu_time_s", "memory_bytes", "processes", "disk_bytes", "output_bytes", "idle_ttl_s", "max_lifetime_s")
    CELL_WALL_TIME_S_FIELD_NUMBER: _ClassVar[int]
    CELL_CPU_TIME_S_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    IDLE_TTL_S_FIELD_NUMBER: _ClassVar[int]
    MAX_LIFETIME_S_FIELD_NUMBER: _ClassVar[int]
    cell_wall_time_s: float
    cell_cpu_time_s: float
    memory_bytes: int
    processes: int
    disk_bytes: int
    output_bytes: int
    idle_ttl_s: float
    max_lifetime_s: float
    def __init__(self, cell_wall_time_s: _Optional[float] = ..., cell_cpu_time_s: _Optional[float] = ..., memory_bytes: _Optional[int] = ..., processes: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., output_bytes: _Optional[int] = ..., idle_ttl_s: _Optional[float] = ..., max_lifetime_s: _Optional[float] = ...) -> None: ...

class OpenSessionRequest(_message.Message):
    __slots__ = ("language", "setup", "files", "limits", "env")
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SETUP_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    language: str
    setup: str
    files: _containers.ScalarMap[str, bytes]
    limits: SessionLimits
    env: _containers.ScalarMap[str, str]
    def __init__(self, language: _Optional[str] = ..., setup: _Optional[str] = ..., files: _Optional[_Mapping[str, bytes]] = ..., limits: _Optional[_Union[SessionLimits, _Mapping]] = ..., env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CellResult(_message.Message):
    __slots__ = ("status", "stdout", "stderr", "error", "result", "stdout_truncated", "stderr_truncated", "wall_s", "cpu_s", "session_lost")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    WALL_S_FIELD_NUMBER: _ClassVar[int]
    CPU_S_FIELD_NUMBER: _ClassVar[int]
    SESSION_LOST_FIELD_NUMBER: _ClassVar[int]
    status: CellStatus
    stdout: str
    stderr: str
    error: str
    result: str
    stdout_truncated: bool
    stderr_truncated: bool
    wall_s: float
    cpu_s: float
    session_lost: bool
    def __init__(self, status: _Optional[_Union[CellStatus, str]] = ..., stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., error: _Optional[str] = ..., result: _Optional[str] = ..., stdout_truncated: _Optional[bool] = ..., stderr_truncated: _Optional[bool] = ..., wall_s: _Optional[float] = ..., cpu_s: _Optional[float] = ..., session_lost: _Optional[bool] = ...) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("session_id", "language", "parent_id", "replica_id", "created_at_unix_s", "idle_expires_at_unix_s", "lifetime_ends_at_unix_s", "limits", "setup_result", "client_id", "cells_run")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_S_FIELD_NUMBER: _ClassVar[int]
    IDLE_EXPIRES_AT_UNIX_S_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_ENDS_AT_UNIX_S_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SETUP_RESULT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CELLS_RUN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    language: str
    parent_id: str
    replica_id: str
    created_at_unix_s: float
    idle_expires_at_unix_s: float
    lifetime_ends_at_unix_s: float
    limits: SessionLimits
    setup_result: CellResult
    client_id: str
    cells_run: int
    def __init__(self, session_id: _Optional[str] = ..., language: _Optional[str] = ..., parent_id: _Optional[str] = ..., replica_id: _Optional[str] = ..., created_at_unix_s: _Optional[float] = ..., idle_expires_at_unix_s: _Optional[float] = ..., lifetime_ends_at_unix_s: _Optional[float] = ..., limits: _Optional[_Union[SessionLimits, _Mapping]] = ..., setup_result: _Optional[_Union[CellResult, _Mapping]] = ..., client_id: _Optional[str] = ..., cells_run: _Optional[int] = ...) -> None: ...

class RunCellRequest(_message.Message):
    __slots__ = ("session_id", "code", "timeout_s", "language")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    code: str
    timeout_s: float
    language: str
    def __init__(self, session_id: _Optional[str] = ..., code: _Optional[str] = ..., timeout_s: _Optional[float] = ..., language: _Optional[str] = ...) -> None: ...

class ForkSessionRequest(_message.Message):
    __slots__ = ("session_id", "count")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    count: int
    def __init__(self, session_id: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ForkSessionResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[SessionInfo]
    def __init__(self, sessions: _Optional[_Iterable[_Union[SessionInfo, _Mapping]]] = ...) -> None: ...

class ScoreSessionRequest(_message.Message):
    __slots__ = ("session_id", "name", "spec", "reference_json")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_JSON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    name: str
    spec: VerifierSpec
    reference_json: str
    def __init__(self, session_id: _Optional[str] = ..., name: _Optional[str] = ..., spec: _Optional[_Union[VerifierSpec, _Mapping]] = ..., reference_json: _Optional[str] = ...) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CloseSessionResponse(_message.Message):
    __slots__ = ("closed",)
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    closed: bool
    def __init__(self, closed: _Optional[bool] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[SessionInfo]
    def __init__(self, sessions: _Optional[_Iterable[_Union[SessionInfo, _Mapping]]] = ...) -> None: ...
