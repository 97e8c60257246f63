"""With OMS_RATELIMIT_STORAGE_URI naming Redis, the sign-in limit per address is kept there:
two app instances (as two gunicorn workers are) count against one limit. Redis runs on
127.0.0.1:6379 on this machine and in CI; the test uses its own database number and key
prefix and removes its keys."""
from __future__ import annotations

import uuid

import pytest
import redis

from app import create_app
from tests.conftest import test_config as base_config

REDIS_URL = "redis://127.0.0.1:6379/15"
LIMIT = 3


@pytest.fixture
def two_workers(app):
    """Two more instances of the app on the test database, sharing the limiter's Redis."""
    prefix = f"waybill-test-{uuid.uuid4().hex[:8]}"
    overrides = dict(AUTH_RATE_LIMITED=True, RATELIMIT_ENABLED=True, OMS_RATELIMIT_SHARED=True,
                     RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                     AUTH_RATE_LIMIT=f"{LIMIT} per 60 second")
    config = {**base_config(app.config["SQLALCHEMY_DATABASE_URI"]), **overrides,
              "SECRET_KEY": app.config["SECRET_KEY"],
              "OMS_CREDENTIALS_KEY": app.config["OMS_CREDENTIALS_KEY"]}
    workers = [create_app(**config) for _ in range(2)]
    yield workers
    store = redis.Redis.from_url(REDIS_URL)
    for key in store.scan_iter(f"*{prefix}*"):
        store.delete(key)


def wrong_login(worker):
    return worker.test_client().post("/api/v1/security/login", json={
        "username": "warehouse", "password": "wrong", "provider": "db"})


def test_two_workers_share_one_address_limit_in_redis(two_workers):
    first, second = two_workers
    answers = [wrong_login(first).status_code, wrong_login(second).status_code,
               wrong_login(first).status_code, wrong_login(second).status_code,
               wrong_login(first).status_code]
    # three attempts in all get through (401), whichever worker took them; then 429
    assert answers == [401, 401, 401, 429, 429]
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(
        f"*{first.config['RATELIMIT_KEY_PREFIX']}*"))
    assert keys, "the limit's counter is not in Redis"
