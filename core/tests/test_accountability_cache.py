"""The accountability kept next to a user's policy rows: each caller gets its own copy (no
request's ``extra`` or ``$CURRENT_*`` rows reach another), it follows the caller's address
(``ip_access``), and it goes when the rows do (a policy change, on this and every worker)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from transom.accountability import Accountability
from transom.testing.helpers import setup_user

READ = [{"collection": "articles", "action": "read", "fields": ["*"]}]


def test_evolve_is_dataclasses_replace() -> None:
    acc = Accountability(user="u", role="r", roles=("r",), policies=("p",), extra={"k": 1})
    acc.dynamic["user"] = ({"id"}, {"id": "u"})
    for changes in ({}, {"ip": "10.0.0.1"}, {"session": "s", "extra": {"x": 2}},
                    {"user": None, "admin": True}):
        mine, theirs = acc.evolve(**changes), dataclasses.replace(acc, **changes)
        assert mine == theirs and repr(mine) == repr(theirs)
        assert vars(mine) == vars(theirs) and mine.dynamic == {}
        assert (mine.extra is acc.extra) == (theirs.extra is acc.extra)
    with pytest.raises(TypeError):
        acc.evolve(nope=1)
    with pytest.raises(ValueError):
        acc.evolve(dynamic={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        acc.evolve().ip = "x"  # type: ignore[misc]


def test_each_caller_gets_its_own_copy(blog: Any, client: Any, admin_headers: Any) -> None:
    cms = blog.extensions["transom"]
    editor = setup_user(client, admin_headers, READ)
    user, role = editor["user"]["id"], editor["role"]["id"]
    one = cms.access.for_user(user, role, "10.0.0.1")
    two = cms.access.for_user(user, role, "10.0.0.1")
    assert one == two and one is not two
    assert one.extra is not two.extra and one.dynamic is not two.dynamic
    one.extra["mine"] = True
    one.dynamic["user"] = ({"id"}, {"id": user})
    three = cms.access.for_user(user, role, "10.0.0.1")
    assert three.extra == {} and three.dynamic == {}
    assert cms.access.for_user(user, role, "10.0.0.2").ip == "10.0.0.2"
    with_session = cms.access.for_user(user, role, "10.0.0.1", session="s1")
    assert with_session.session == "s1" and three.session is None
    public = cms.access.public("10.0.0.3")
    public.extra["mine"] = True
    assert cms.access.public("10.0.0.3").extra == {}


def test_the_kept_one_follows_ip_access_and_policy_changes(
        blog: Any, client: Any, admin_headers: Any) -> None:
    cms = blog.extensions["transom"]
    editor = setup_user(client, admin_headers, READ)
    user, role, policy = editor["user"]["id"], editor["role"]["id"], editor["policy_id"]
    before = cms.access.for_user(user, role, "10.0.0.1")
    assert policy in before.policies
    resp = client.patch(f"/policies/{policy}", json={"ip_access": ["192.168.0.0/16"]},
                        headers=admin_headers)
    assert resp.status_code == 200
    # the change cleared the kept rows and accountabilities: the address now matters
    assert policy not in cms.access.for_user(user, role, "10.0.0.1").policies
    assert policy in cms.access.for_user(user, role, "192.168.1.5").policies
    assert client.get("/items/articles", headers=editor["headers"]).status_code == 403
