"""Progress in Amazon DynamoDB: the production store, through the ASK SDK's `DynamoDbAdapter`.

Owns: `build_dynamodb_adapter(table)`, the SDK adapter keyed by `keys.listener_key` and keeping
the store contract of skill/persistence/__init__.py (a conditional write on the record's `rev`,
numbers handed back as int or float, never Decimal), and `create_table(table)` for
`trust-guide store create`. The skill itself never creates tables.

`ask_sdk_dynamodb` and boto3 are imported inside the functions, never at module top: the SDK's
adapter module builds a boto3 resource as a default argument when it is imported, which needs a
region. boto3's own configuration applies: AWS_DEFAULT_REGION (botocore 1.43 does not read
AWS_REGION; Lambda sets both), the credential chain, and AWS_ENDPOINT_URL_DYNAMODB for a local
server. Not imported by the rest of the skill unless TRUST_GUIDE_STORE is a dynamodb:// URL.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ask_sdk_core.attributes_manager import AbstractPersistenceAdapter
from ask_sdk_core.exceptions import PersistenceException
from ask_sdk_model import RequestEnvelope

from skill.config import ConfigError
from skill.persistence import REVISION, StaleWriteError
from skill.persistence.keys import listener_key

log = logging.getLogger(__name__)

PARTITION_KEY = "id"  # the SDK adapter's default partition key name
ATTRIBUTES = "attributes"  # the SDK adapter's default attribute holding the record

# Alexa waits 8 s for a response. One store call at worst: connect 0.5 s + read 1.0 s, then
# botocore's standard-mode backoff before the retry (rand(0, 1) * 2**0 <= 1 s), then the retry's
# 0.5 s + 1.0 s: 1.5 + 1 + 1.5 = 4.0 s. A request starts no further store call once its calls
# have taken REQUEST_BUDGET in all, so it spends at most 2.0 + 4.0 = 6.0 s on the store (a load,
# a save, and a re-read and retry after a conflict), and the listener still hears an answer well
# inside 8 s. A healthy table answers in milliseconds.
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.0
MAX_ATTEMPTS = 2  # the first try and one retry
REQUEST_BUDGET = 2.0
SETUP_TIMEOUT = 10.0  # `store create` is an operator's command: no 8 s rule, but no hang either

_NO_REGION = (
    "a DynamoDB store needs an AWS region: set AWS_DEFAULT_REGION to the table's region, "
    "e.g. AWS_DEFAULT_REGION=us-east-1 (boto3 does not read AWS_REGION alone; Lambda sets both)"
)


def _decoded(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: whole ones become int, others float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    if isinstance(value, set | frozenset):
        return {_decoded(item) for item in value}
    return value


def _encoded(value: Any, path: str = ATTRIBUTES) -> Any:
    """boto3 refuses floats ("Float types are not supported"): send finite ones as Decimal."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: DynamoDB cannot store {value!r}")
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _encoded(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encoded(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _revision(attributes: dict[str, Any]) -> int:
    rev = attributes.get(REVISION, 1)  # no revision: a first record, as sqlite.py reads it
    if isinstance(rev, bool) or not isinstance(rev, int) or rev < 1:
        raise ValueError(f"attributes[{REVISION!r}] must be a whole number >= 1, not {rev!r}")
    return rev


def _failure(action: str, table: str, exc: Exception) -> PersistenceException:
    """A short message naming the store and the error; never a key (it is a user or person id)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return PersistenceException(f"{action} DynamoDB table {table}: {detail[:200]}")


def _session():
    """boto3's default session, the one the SDK's import-time resource made: a session of our
    own would load the service models again (about 0.2 s of a cold start here). boto3 reads the
    region and endpoint from the environment each time a client is made."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    if session.region_name is None:
        raise ConfigError(_NO_REGION)
    return session


@functools.cache
def _adapter_class() -> type[AbstractPersistenceAdapter]:
    """The adapter class, defined on first use: importing the SDK module needs a region."""
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        from ask_sdk_dynamodb.adapter import DynamoDbAdapter
    except NoRegionError as exc:  # its default argument: boto3.resource("dynamodb")
        raise ConfigError(_NO_REGION) from exc

    store_errors = (BotoCoreError, ClientError)

    class ProgressDynamoDbAdapter(DynamoDbAdapter):
        """The SDK's adapter with conditional writes on `rev` and numbers without Decimal.

        Records live as the SDK lays them out: {"id": listener key, "attributes": {..., "rev": n}}.
        """

        def __init__(self, table_name: str, dynamodb_resource: Any) -> None:
            super().__init__(
                table_name=table_name,
                partition_key_name=PARTITION_KEY,
                attribute_name=ATTRIBUTES,
                create_table=False,  # the skill never creates tables: `trust-guide store create`
                partition_keygen=listener_key,
                dynamodb_resource=dynamodb_resource,
            )
            self.table = dynamodb_resource.Table(table_name)  # no network call
            self._spent = threading.local()  # per thread: the request, its store seconds so far

        @contextlib.contextmanager
        def _store_call(self, request_envelope: RequestEnvelope) -> Iterator[None]:
            """Time a store call against the request's budget; refuse one once it is spent."""
            request_id = getattr(request_envelope.request, "request_id", None)
            spent = self._spent
            if request_id is None or getattr(spent, "request_id", None) != request_id:
                spent.request_id, spent.seconds = request_id, 0.0
            elif spent.seconds > REQUEST_BUDGET:
                raise PersistenceException(
                    f"DynamoDB table {self.table_name}: this request's store calls took "
                    f"{spent.seconds:.1f} s already; not starting another"
                )
            started = time.monotonic()
            try:
                yield
            finally:
                spent.seconds += time.monotonic() - started

        def get_attributes(self, request_envelope: RequestEnvelope) -> dict[str, Any]:
            key = self.partition_keygen(request_envelope)
            try:
                with self._store_call(request_envelope):
                    response = self.table.get_item(
                        Key={self.partition_key_name: key}, ConsistentRead=True
                    )
            except store_errors as exc:
                raise _failure("reading from", self.table_name, exc) from exc
            item = response.get("Item")
            if item is None:
                return {}
            record = item.get(self.attribute_name)
            if not isinstance(record, dict):
                log.warning("stored progress is not a map; treating it as empty")
                return {}  # rev 0: the next save replaces it (see the condition below)
            return _decoded(record)

        def save_attributes(
            self, request_envelope: RequestEnvelope, attributes: dict[str, Any]
        ) -> None:
            """Write only over the revision that was read (see the contract in __init__)."""
            key = self.partition_keygen(request_envelope)
            rev = _revision(attributes)
            record = _encoded({**attributes, REVISION: rev})
            names = {"#a": self.attribute_name, "#r": REVISION}
            condition = "#a.#r = :prev"
            if rev == 1:  # no record yet, or one written before revisions: both count as rev 0
                names["#k"] = self.partition_key_name  # (unused names are an error)
                condition = (
                    f"attribute_not_exists(#k) OR attribute_not_exists(#a.#r) OR {condition}"
                )
            try:
                with self._store_call(request_envelope):
                    self.table.put_item(
                        Item={self.partition_key_name: key, self.attribute_name: record},
                        ConditionExpression=condition,
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues={":prev": rev - 1},
                    )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    raise StaleWriteError(
                        f"progress revision {rev - 1} is no longer the latest"
                    ) from exc
                raise _failure("saving to", self.table_name, exc) from exc
            except BotoCoreError as exc:
                raise _failure("saving to", self.table_name, exc) from exc

    return ProgressDynamoDbAdapter


def build_dynamodb_adapter(table: str) -> AbstractPersistenceAdapter:
    """The adapter for TRUST_GUIDE_STORE=dynamodb://TABLE. Makes no network call.

    Raises ConfigError when boto3 finds no region."""
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    adapter_class = _adapter_class()  # first: importing the SDK makes boto3's default session
    try:
        resource = _session().resource("dynamodb", config=config)
    except NoRegionError as exc:
        raise ConfigError(_NO_REGION) from exc
    return adapter_class(table, resource)


def create_table(table: str) -> str:
    """Create the progress table (on-demand billing, key "id") and wait until it is ACTIVE.

    Returns what happened, in a sentence; an existing table is left as it is and said so.
    Raises ConfigError without a region, PersistenceException when AWS refuses."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    config = Config(
        connect_timeout=SETUP_TIMEOUT,
        read_timeout=SETUP_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    try:
        client = _session().client("dynamodb", config=config)
    except NoRegionError as exc:
        raise ConfigError(_NO_REGION) from exc
    region = client.meta.region_name
    try:
        client.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise _failure("creating", table, exc) from exc
        try:
            status = client.describe_table(TableName=table)["Table"]["TableStatus"]
        except (BotoCoreError, ClientError) as exc2:
            raise _failure("describing", table, exc2) from exc2
        return f"DynamoDB table {table} already exists in {region} ({status}); left as it is"
    except BotoCoreError as exc:
        raise _failure("creating", table, exc) from exc
    try:
        client.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    except (BotoCoreError, ClientError) as exc:
        raise _failure("waiting for", table, exc) from exc
    return f"created DynamoDB table {table} in {region} (on-demand billing, key {PARTITION_KEY!r})"
