"""Filter normalisation, dynamic variables and the filter helpers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from werkzeug.datastructures import MultiDict

from transom.accountability import Accountability
from transom.errors import InvalidQueryError, error_body
from transom.query import (
    UNDEFINED,
    adjust_date,
    dynamic_paths,
    filter_fields,
    has_dynamic_variables,
    normalize_filter,
    parse_function,
    parse_query,
    resolve_dynamic,
    split_csv,
    split_path,
    validate_function_path,
    validate_operator,
)

SAMPLES = Path("/work/shared/reference/directus11-samples/postgres")
NOW = dt.datetime(2024, 3, 15, 12, 30, 45, tzinfo=dt.UTC)


def q_filter(url_query: str) -> dict | None:
    return parse_query(MultiDict(parse_qsl(url_query, keep_blank_values=True))).filter


def reason(exc_info: pytest.ExceptionInfo[InvalidQueryError]) -> str:
    return exc_info.value.extensions["reason"]


# --------------------------------------------------------------------------- coercion


class TestValues:
    @pytest.mark.parametrize(
        "raw,expected",
        [
            ("true", True),
            ("false", False),
            ("null", None),
            ("NULL", None),
            ("x", "x"),
            ("True", "True"),
            ("0", "0"),
        ],
    )
    def test_scalar_coercion(self, raw: str, expected: object) -> None:
        assert q_filter(f"filter[f][_eq]={raw}") == {"f": {"_eq": expected}}

    def test_eq_and_neq_null_kept(self) -> None:
        assert normalize_filter({"f": {"_eq": None}}) == {"f": {"_eq": None}}
        assert normalize_filter({"f": {"_neq": "null"}}) == {"f": {"_neq": None}}

    def test_other_null_operators_dropped(self) -> None:
        assert normalize_filter({"f": {"_gt": None, "_lt": 5}}) == {"f": {"_lt": 5}}
        assert normalize_filter({"f": {"_contains": "null"}, "g": {"_eq": 1}}) == {"g": {"_eq": 1}}
        assert normalize_filter({"f": {"_in": None}}) is None

    def test_undefined_always_dropped(self) -> None:
        assert normalize_filter({"f": {"_eq": UNDEFINED}, "g": {"_eq": 1}}) == {"g": {"_eq": 1}}
        assert normalize_filter({"f": {"_eq": UNDEFINED}}) is None
        assert normalize_filter({"f": UNDEFINED}) is None
        assert normalize_filter({"f": {"_null": UNDEFINED}}) is None

    def test_undefined_branch_of_or_does_not_widen(self) -> None:
        # An _or branch emptied by unset variables disappears; it must not become {}.
        got = normalize_filter({"_or": [{"a": {"_eq": UNDEFINED}}, {"b": {"_eq": 1}}]})
        assert got == {"_or": [{"b": {"_eq": 1}}]}

    def test_explicit_empty_object_in_or_kept(self) -> None:
        assert normalize_filter({"_or": [{}, {"b": {"_eq": 1}}]}) == {
            "_or": [{}, {"b": {"_eq": 1}}]
        }
        assert normalize_filter({}) == {}

    def test_field_without_operators_dropped(self) -> None:
        assert normalize_filter({"f": {}, "g": {"_eq": 1}}) == {"g": {"_eq": 1}}

    @pytest.mark.parametrize("op", ["_null", "_nnull", "_empty", "_nempty"])
    @pytest.mark.parametrize(
        "raw,expected",
        [
            ("", True),
            (None, True),
            ("true", True),
            (True, True),
            ("false", False),
            (False, False),
            ("1", True),
            ("0", False),
        ],
    )
    def test_boolean_operators(self, op: str, raw: object, expected: bool) -> None:
        assert normalize_filter({"f": {op: raw}}) == {"f": {op: expected}}

    def test_boolean_operator_bad_value(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            normalize_filter({"f": {"_null": "maybe"}})
        assert reason(exc) == '"_null" has to be a boolean'

    def test_scalar_operator_rejects_objects(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            normalize_filter({"f": {"_eq": [1, 2]}})
        assert reason(exc) == 'The filter value for "_eq" has to be a string, number, or boolean'

    def test_non_object_field_value(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            q_filter("filter[title]=x")
        assert reason(exc) == 'Invalid filter for field "title"'

    def test_non_object_filter(self) -> None:
        with pytest.raises(InvalidQueryError):
            normalize_filter(["a"])


class TestLists:
    @pytest.mark.parametrize("op", ["_in", "_nin"])
    def test_csv_in(self, op: str) -> None:
        assert q_filter(f"filter[id][{op}]=1,2,3") == {"id": {op: ["1", "2", "3"]}}

    def test_single_value_in(self) -> None:
        assert q_filter("filter[id][_in]=7") == {"id": {"_in": ["7"]}}
        assert normalize_filter({"id": {"_in": 7}}) == {"id": {"_in": [7]}}

    def test_bracket_list_in(self) -> None:
        assert q_filter("filter[id][_in][]=1&filter[id][_in][]=2") == {"id": {"_in": ["1", "2"]}}
        assert q_filter("filter[id][_in][0]=1&filter[id][_in][1]=2") == {"id": {"_in": ["1", "2"]}}

    def test_in_items_coerced(self) -> None:
        assert normalize_filter({"f": {"_in": "a,null,true"}}) == {"f": {"_in": ["a", None, True]}}

    @pytest.mark.parametrize("op", ["_between", "_nbetween"])
    def test_csv_between(self, op: str) -> None:
        assert q_filter(f"filter[rating][{op}]=10,20") == {"rating": {op: ["10", "20"]}}
        assert normalize_filter({"rating": {op: [1, 2]}}) == {"rating": {op: [1, 2]}}

    def test_between_needs_two(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            q_filter("filter[rating][_between]=10")
        assert reason(exc) == '"_between" has to be an array of two values'

    def test_empty_list(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            normalize_filter({"id": {"_in": []}})
        assert reason(exc) == '"_in" has to be an array of values'

    def test_list_of_objects(self) -> None:
        with pytest.raises(InvalidQueryError):
            normalize_filter({"id": {"_in": [{"a": 1}]}})
        with pytest.raises(InvalidQueryError):
            normalize_filter({"id": {"_in": {"a": 1}}})


class TestOperatorSpelling:
    @pytest.mark.parametrize(
        "op",
        [
            "gt",
            "gte",
            "lt",
            "lte",
            "eq",
            "neq",
            "in",
            "contains",
            "icontains",
            "null",
            "between",
            "starts_with",
        ],
    )
    def test_without_underscore(self, op: str) -> None:
        value = {"in": "1,2", "between": "1,2", "null": "true"}.get(op, "x")
        got = q_filter(f"filter[published_at][{op}]={value}")
        assert got is not None
        assert list(got["published_at"]) == [f"_{op}"]

    def test_gt_example(self) -> None:
        assert q_filter("filter[published_at][gt]=2024-01-01") == {
            "published_at": {"_gt": "2024-01-01"}
        }

    def test_unknown_name_is_a_field(self) -> None:
        assert q_filter("filter[author][name][eq]=x") == {"author": {"name": {"_eq": "x"}}}
        assert q_filter("filter[author][bogus][_eq]=x") == {"author": {"bogus": {"_eq": "x"}}}

    def test_root_keys_are_fields(self) -> None:
        # A field called "in" at the root stays a field.
        assert normalize_filter({"in": {"_eq": 1}}) == {"in": {"_eq": 1}}

    def test_operator_name_with_object_value_is_relation(self) -> None:
        assert normalize_filter({"trip": {"in": {"_eq": 1}}}) == {"trip": {"in": {"_eq": 1}}}

    def test_some_none_and_logical(self) -> None:
        got = q_filter("filter[categories][none][name][_eq]=x")
        assert got == {"categories": {"_none": {"name": {"_eq": "x"}}}}
        got = normalize_filter({"or": [{"a": {"_eq": 1}}, {"b": {"_eq": 2}}]})
        assert got == {"_or": [{"a": {"_eq": 1}}, {"b": {"_eq": 2}}]}

    def test_unknown_underscore_operator_kept(self) -> None:
        assert q_filter("filter[status][_bogus]=x") == {"status": {"_bogus": "x"}}

    def test_item_collection_keys(self) -> None:
        got = normalize_filter({"sections": {"item__headings": {"title": {"_eq": "x"}}}})
        assert got == {"sections": {"item:headings": {"title": {"_eq": "x"}}}}


class TestLogical:
    def test_must_be_lists(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            normalize_filter({"_and": {"a": {"_eq": 1}}})
        assert reason(exc) == '"_and" must be an array'
        with pytest.raises(InvalidQueryError) as exc:
            q_filter("filter[_or][a][_eq]=1")
        assert reason(exc) == '"_or" must be an array'

    def test_members_must_be_objects(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            normalize_filter({"_or": ["x"]})
        assert reason(exc) == '"_or[0]" must be of type object'

    def test_nested_brackets(self) -> None:
        got = q_filter(
            "filter[_and][0][_or][0][a][_eq]=1&filter[_and][0][_or][1][b][_eq]=2"
            "&filter[_and][1][c][_null]"
        )
        assert got == {
            "_and": [
                {"_or": [{"a": {"_eq": "1"}}, {"b": {"_eq": "2"}}]},
                {"c": {"_null": True}},
            ]
        }

    def test_hoist_field_or(self) -> None:
        got = normalize_filter({"author": {"_or": [{"name": {"_eq": "a"}}, {"age": {"_gt": 3}}]}})
        assert got == {"_or": [{"author": {"name": {"_eq": "a"}}}, {"author": {"age": {"_gt": 3}}}]}

    def test_hoist_operator_or(self) -> None:
        got = q_filter("filter[rating][_or][0][_lt]=10&filter[rating][_or][1][_gt]=90")
        assert got == {"_or": [{"rating": {"_lt": "10"}}, {"rating": {"_gt": "90"}}]}

    def test_hoist_inside_root_groups(self) -> None:
        got = normalize_filter({"_and": [{"a": {"_or": [{"_eq": 1}, {"_eq": 2}]}}]})
        assert got == {"_and": [{"_or": [{"a": {"_eq": 1}}, {"a": {"_eq": 2}}]}]}

    def test_hoist_with_siblings_and_collisions(self) -> None:
        got = normalize_filter(
            {
                "a": {"_or": [{"_eq": 1}, {"_eq": 2}]},
                "b": {"_or": [{"_eq": 3}, {"_eq": 4}]},
                "c": {"_eq": 5},
            }
        )
        assert got == {
            "_or": [{"a": {"_eq": 1}}, {"a": {"_eq": 2}}],
            "c": {"_eq": 5},
            "_and": [{"_or": [{"b": {"_eq": 3}}, {"b": {"_eq": 4}}]}],
        }

    def test_no_hoist_out_of_some(self) -> None:
        f = {"cats": {"_some": {"_or": [{"a": {"_eq": 1}}, {"b": {"_eq": 2}}]}}}
        assert normalize_filter(f) == f

    def test_depth_guard(self) -> None:
        f: dict = {"x": {"_eq": 1}}
        for _ in range(200):
            f = {"_and": [f]}
        with pytest.raises(InvalidQueryError):
            normalize_filter(f)


class TestSpecialOperators:
    def test_json(self) -> None:
        got = q_filter("filter[meta][_json][a.b][_eq]=true")
        assert got == {"meta": {"_json": {"a.b": {"_eq": True}}}}
        got = normalize_filter({"meta": {"_json": '{"x[0]": {"_gt": 1}}'}})
        assert got == {"meta": {"_json": {"x[0]": {"_gt": 1}}}}
        with pytest.raises(InvalidQueryError):
            normalize_filter({"meta": {"_json": 5}})

    def test_geometry_json_string(self) -> None:
        geo = {"type": "Point", "coordinates": [1, 2]}
        got = normalize_filter({"loc": {"_intersects": json.dumps(geo)}})
        assert got == {"loc": {"_intersects": geo}}
        assert normalize_filter({"loc": {"intersects_bbox": geo}}) == {
            "loc": {"_intersects_bbox": geo}
        }

    def test_some_none(self) -> None:
        got = normalize_filter({"cats": {"_some": {"name": {"eq": "x"}}}})
        assert got == {"cats": {"_some": {"name": {"_eq": "x"}}}}
        assert normalize_filter({"cats": {"_none": {}}}) == {"cats": {"_none": {}}}
        with pytest.raises(InvalidQueryError):
            normalize_filter({"cats": {"_some": "x"}})

    def test_function_keys(self) -> None:
        assert q_filter("filter[year(date)][_eq]=1968") == {"year(date)": {"_eq": "1968"}}
        with pytest.raises(InvalidQueryError) as exc:
            q_filter("filter[decade(date)][_eq]=1960")
        assert reason(exc) == 'Invalid function specified "decade"'

    def test_follow_key_kept(self) -> None:
        f = {"$FOLLOW(comments, article)": {"_some": {"text": {"_eq": "x"}}}}
        assert normalize_filter(f) == f


# --------------------------------------------------------------------------- functions, paths


class TestFunctions:
    @pytest.mark.parametrize(
        "key,expected",
        [
            ("year(date)", ("year", "date", ())),
            ("month(d)", ("month", "d", ())),
            ("week(d)", ("week", "d", ())),
            ("day(d)", ("day", "d", ())),
            ("weekday(d)", ("weekday", "d", ())),
            ("hour(d)", ("hour", "d", ())),
            ("minute(d)", ("minute", "d", ())),
            ("second(d)", ("second", "d", ())),
            ("count(comments)", ("count", "comments", ())),
            ("json(data, a.b[0])", ("json", "data", ("a.b[0]",))),
            ("json(data,$.x)", ("json", "data", ("$.x",))),
            ("title", None),
            ("shout(title)", None),
            ("$FOLLOW(a, b)", None),
        ],
    )
    def test_parse_function(self, key: str, expected: object) -> None:
        assert parse_function(key) == expected

    def test_split_path(self) -> None:
        assert split_path("author.json(data, a.b).x") == ["author", "json(data, a.b)", "x"]
        assert split_path("a") == ["a"]

    def test_split_csv(self) -> None:
        assert split_csv("id,json(data, a.b),year(d)") == ["id", "json(data, a.b)", "year(d)"]

    def test_validate_function_path(self) -> None:
        validate_function_path("author.year(birthday)")
        validate_function_path("*.*")
        with pytest.raises(InvalidQueryError):
            validate_function_path("author.nope(x)")
        with pytest.raises(InvalidQueryError):
            validate_function_path("year(a, b)")


# --------------------------------------------------------------------------- helpers


class TestFilterFields:
    def test_paths(self) -> None:
        f = {
            "_and": [
                {"title": {"_eq": "x"}},
                {"_or": [{"author": {"name": {"_contains": "a"}}}, {"year(date)": {"_eq": 1}}]},
            ],
            "cats": {"_some": {"slug": {"_eq": "s"}}},
            "meta": {"_json": {"a.b": {"_eq": 1}}},
            "tags": {"tags_id": {"name": {"_in": ["a"]}}},
            "author": {"_null": False},
        }
        assert filter_fields(f) == {
            "title",
            "author.name",
            "year(date)",
            "cats.slug",
            "meta",
            "tags.tags_id.name",
            "author",
        }

    def test_empty(self) -> None:
        assert filter_fields(None) == set()
        assert filter_fields({}) == set()


class TestValidateOperator:
    def test_sample_27_body(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            validate_operator("string", (), "_bogus")
        expected = {
            "errors": [
                {
                    "message": 'Invalid query. "string" field type does not contain the '
                    '"_bogus" filter operator.',
                    "extensions": {
                        "reason": '"string" field type does not contain the "_bogus" filter '
                        "operator",
                        "code": "INVALID_QUERY",
                    },
                }
            ]
        }
        assert error_body(exc.value) == expected
        sample = SAMPLES / "27-items-bad-filter-operator.json"
        if sample.exists():
            assert error_body(exc.value) == json.loads(sample.read_text())["body"]

    def test_allowed(self) -> None:
        validate_operator("string", (), "_contains")
        validate_operator("integer", None, "_between")
        validate_operator("json", [], "_json")
        validate_operator("hash", (), "_null")

    def test_rejected(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            validate_operator("integer", (), "_contains")
        assert (
            reason(exc) == '"integer" field type does not contain the "_contains" filter operator'
        )
        with pytest.raises(InvalidQueryError):
            validate_operator("string", ("conceal",), "_eq")
        with pytest.raises(InvalidQueryError):
            validate_operator("string", (), "_regex")


# --------------------------------------------------------------------------- dynamic variables


CTX = {
    "user": "u-1",
    "role": "r-1",
    "roles": ["r-parent", "r-1"],
    "policies": ["p-1", "p-2"],
    "user_data": {"id": "u-1", "avatar": {"filesize": 1234}, "teams": [{"id": 1}, {"id": 2}]},
    "role_data": {"name": "Editor"},
}


class TestDynamic:
    @pytest.mark.parametrize(
        "adj,expected",
        [
            ("-1 year", dt.datetime(2023, 3, 15, 12, 30, 45, tzinfo=dt.UTC)),
            ("+2 hours", dt.datetime(2024, 3, 15, 14, 30, 45, tzinfo=dt.UTC)),
            ("-3 days", dt.datetime(2024, 3, 12, 12, 30, 45, tzinfo=dt.UTC)),
            ("1 week", dt.datetime(2024, 3, 22, 12, 30, 45, tzinfo=dt.UTC)),
            ("+30 minutes", dt.datetime(2024, 3, 15, 13, 0, 45, tzinfo=dt.UTC)),
            ("-1 month", dt.datetime(2024, 2, 15, 12, 30, 45, tzinfo=dt.UTC)),
            ("+15 seconds", dt.datetime(2024, 3, 15, 12, 31, 0, tzinfo=dt.UTC)),
            ("-2d", dt.datetime(2024, 3, 13, 12, 30, 45, tzinfo=dt.UTC)),
            ("1M", dt.datetime(2024, 4, 15, 12, 30, 45, tzinfo=dt.UTC)),
            ("1m", dt.datetime(2024, 3, 15, 12, 31, 45, tzinfo=dt.UTC)),
            ("-500 ms", dt.datetime(2024, 3, 15, 12, 30, 44, 500000, tzinfo=dt.UTC)),
            ("- 1 years", dt.datetime(2023, 3, 15, 12, 30, 45, tzinfo=dt.UTC)),
        ],
    )
    def test_now_adjustments(self, adj: str, expected: dt.datetime) -> None:
        got = resolve_dynamic({"d": {"_gt": f"$NOW({adj})"}}, CTX, now=NOW)
        assert got == {"d": {"_gt": expected}}
        assert got["d"]["_gt"].tzinfo is not None

    def test_now_plain(self) -> None:
        assert resolve_dynamic({"d": {"_lte": "$NOW"}}, None, now=NOW) == {"d": {"_lte": NOW}}
        assert resolve_dynamic({"d": {"_lte": "$NOW()"}}, None, now=NOW) == {"d": {"_lte": NOW}}

    def test_now_default_is_aware_utc(self) -> None:
        got = resolve_dynamic({"d": {"_lte": "$NOW"}}, None)["d"]["_lte"]
        assert got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)

    def test_naive_now_treated_as_utc(self) -> None:
        got = resolve_dynamic("$NOW", None, now=dt.datetime(2024, 1, 1))
        assert got == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

    def test_month_end_clamps(self) -> None:
        base = dt.datetime(2024, 3, 31, tzinfo=dt.UTC)
        assert adjust_date(base, "-1 month") == dt.datetime(2024, 2, 29, tzinfo=dt.UTC)

    def test_bad_adjustment(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            resolve_dynamic({"d": {"_gt": "$NOW(yesterday)"}}, CTX, now=NOW)
        assert reason(exc) == 'Invalid date adjustment "yesterday"'
        with pytest.raises(InvalidQueryError):
            adjust_date(NOW, "3 fortnights")

    def test_between_with_now(self) -> None:
        f = parse_query(MultiDict([("filter[d][_between]", "$NOW(-1 day),$NOW")])).filter
        assert resolve_dynamic(f, CTX, now=NOW) == {
            "d": {"_between": [NOW - dt.timedelta(days=1), NOW]}
        }

    def test_current_ids(self) -> None:
        f = {
            "owner": {"_eq": "$CURRENT_USER"},
            "role": {"_eq": "$CURRENT_ROLE"},
            "r": {"_in": "$CURRENT_ROLES"},
            "p": {"_in": "$CURRENT_POLICIES"},
            "other": {"_eq": "$SOMETHING"},
        }
        assert resolve_dynamic(f, CTX) == {
            "owner": {"_eq": "u-1"},
            "role": {"_eq": "r-1"},
            "r": {"_in": ["r-parent", "r-1"]},
            "p": {"_in": ["p-1", "p-2"]},
            "other": {"_eq": "$SOMETHING"},
        }

    def test_list_members_resolved(self) -> None:
        f = {"owner": {"_in": ["$CURRENT_USER", "x"]}}
        assert resolve_dynamic(f, CTX) == {"owner": {"_in": ["u-1", "x"]}}

    def test_deep_forms(self) -> None:
        f = {
            "_and": [
                {"size": {"_lt": "$CURRENT_USER.avatar.filesize"}},
                {"team": {"_in": "$CURRENT_USER.teams.id"}},
                {"label": {"_eq": "$CURRENT_ROLE.name"}},
                {"missing": {"_eq": "$CURRENT_USER.nope.deeper"}},
                {"first": {"_eq": "$CURRENT_USER.teams.0.id"}},
            ]
        }
        assert resolve_dynamic(f, CTX) == {
            "_and": [
                {"size": {"_lt": 1234}},
                {"team": {"_in": [1, 2]}},
                {"label": {"_eq": "Editor"}},
                {"missing": {"_eq": None}},
                {"first": {"_eq": 1}},
            ]
        }

    def test_user_id_without_data(self) -> None:
        ctx = {"user": "u-9"}
        assert resolve_dynamic({"a": {"_eq": "$CURRENT_USER.id"}}, ctx) == {"a": {"_eq": "u-9"}}

    def test_anonymous(self) -> None:
        f = {"owner": {"_eq": "$CURRENT_USER"}, "r": {"_in": "$CURRENT_ROLES"}}
        assert resolve_dynamic(f, None) == {"owner": {"_eq": None}, "r": {"_in": []}}

    def test_accountability_object(self) -> None:
        acc = Accountability(
            user="u-2",
            role="r-2",
            roles=("r-0", "r-2"),
            policies=("p",),
            extra={"user_data": {"email": "a@b.c"}},
        )
        f = {
            "a": {"_eq": "$CURRENT_USER"},
            "b": {"_in": "$CURRENT_ROLES"},
            "c": {"_eq": "$CURRENT_USER.email"},
        }
        assert resolve_dynamic(f, acc) == {
            "a": {"_eq": "u-2"},
            "b": {"_in": ["r-0", "r-2"]},
            "c": {"_eq": "a@b.c"},
        }

    def test_input_not_mutated(self) -> None:
        f = {"owner": {"_eq": "$CURRENT_USER"}}
        resolve_dynamic(f, CTX)
        assert f == {"owner": {"_eq": "$CURRENT_USER"}}

    def test_dynamic_paths(self) -> None:
        f = {
            "_or": [
                {"a": {"_eq": "$CURRENT_USER.avatar.filesize"}},
                {"b": {"_in": ["$CURRENT_USER.teams.id", "$CURRENT_USER"]}},
                {"c": {"_eq": "$CURRENT_ROLE.name"}},
                {"d": {"_eq": "$NOW"}},
            ]
        }
        assert dynamic_paths(f) == {"user": {"avatar.filesize", "teams.id"}, "role": {"name"}}
        assert dynamic_paths(None) == {"user": set(), "role": set()}

    def test_has_dynamic_variables(self) -> None:
        assert has_dynamic_variables({"a": {"_eq": "$NOW(-1 day)"}})
        assert has_dynamic_variables({"a": {"_in": ["$CURRENT_ROLES"]}})
        assert not has_dynamic_variables({"a": {"_eq": "NOW"}})
