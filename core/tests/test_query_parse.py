"""Query-string and dict parsing into ``Query`` (Directus's sanitizeQuery + syntax checks)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from werkzeug.datastructures import MultiDict

from transom.errors import InvalidPayloadError, InvalidQueryError, error_body
from transom.query import Query, nest_args, parse_query, parse_query_dict

SAMPLES = Path("/work/shared/reference/directus11-samples/postgres")


def args(url_query: str) -> MultiDict:
    """What Flask's ``request.args`` holds for a raw query string."""
    return MultiDict(parse_qsl(url_query, keep_blank_values=True))


def sample_args(name: str) -> MultiDict:
    data = json.loads((SAMPLES / name).read_text())
    return args(urlsplit(data["request"]["path"]).query)


def sample_body(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text())["body"]


def reason(exc_info: pytest.ExceptionInfo[InvalidQueryError]) -> str:
    return exc_info.value.extensions["reason"]


# --------------------------------------------------------------------------- bracket parser


class TestNestArgs:
    def test_nested_keys(self) -> None:
        assert nest_args(args("filter[title][_eq]=x")) == {"filter": {"title": {"_eq": "x"}}}

    def test_indexes_become_lists(self) -> None:
        got = nest_args(args("filter[_and][0][a][_eq]=1&filter[_and][1][b][_eq]=2"))
        assert got == {"filter": {"_and": [{"a": {"_eq": "1"}}, {"b": {"_eq": "2"}}]}}

    def test_indexes_sorted_numerically_and_gaps_closed(self) -> None:
        got = nest_args(args("a[10]=k&a[2]=c&a[0]=a"))
        assert got == {"a": ["a", "c", "k"]}

    def test_empty_brackets_append(self) -> None:
        assert nest_args(args("groupBy[]=a&groupBy[]=b")) == {"groupBy": ["a", "b"]}

    def test_empty_brackets_then_keys(self) -> None:
        got = nest_args(args("a[][x]=1&a[][y]=2"))
        assert got == {"a": [{"x": "1"}, {"y": "2"}]}

    def test_repeated_plain_key_is_list(self) -> None:
        assert nest_args(args("fields=id&fields=title")) == {"fields": ["id", "title"]}

    def test_plain_then_brackets_merge(self) -> None:
        assert nest_args(args("fields=id&fields[]=title")) == {"fields": ["id", "title"]}
        assert nest_args(args("fields[]=id&fields=title")) == {"fields": ["id", "title"]}

    def test_mixed_keys_stay_object(self) -> None:
        assert nest_args(args("a[0]=x&a[b]=y")) == {"a": {"0": "x", "b": "y"}}

    def test_index_over_array_limit_stays_key(self) -> None:
        assert nest_args(args("a[501]=x")) == {"a": {"501": "x"}}
        assert nest_args(args("a[500]=x")) == {"a": ["x"]}

    def test_leading_zero_is_not_an_index(self) -> None:
        assert nest_args(args("a[01]=x")) == {"a": {"01": "x"}}

    def test_max_depth_ten_ok(self) -> None:
        key = "f" + "".join(f"[k{i}]" for i in range(10))
        got = nest_args(MultiDict([(key, "v")]))
        node = got["f"]
        for i in range(10):
            node = node[f"k{i}"]
        assert node == "v"

    def test_depth_eleven_is_invalid_query(self) -> None:
        key = "filter" + "".join(f"[k{i}]" for i in range(11))
        with pytest.raises(InvalidQueryError) as exc:
            nest_args(MultiDict([(key, "v")]))
        assert exc.value.code == "INVALID_QUERY"
        assert exc.value.status == 400
        assert "10" in reason(exc)

    def test_conflicting_forms(self) -> None:
        with pytest.raises(InvalidQueryError):
            nest_args(args('filter[a][_eq]=1&filter={"b":{"_eq":2}}'))

    def test_malformed_key_kept_literally(self) -> None:
        assert nest_args(args("a[b=1")) == {"a[b": "1"}

    def test_plain_mapping(self) -> None:
        assert nest_args({"fields": ["a", "b"], "filter[x][_eq]": "1"}) == {
            "fields": ["a", "b"],
            "filter": {"x": {"_eq": "1"}},
        }

    def test_none(self) -> None:
        assert nest_args(None) == {}


# --------------------------------------------------------------------------- sample errors


class TestDirectusSamples:
    def test_29_bad_json_filter(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(sample_args("29-items-bad-json-filter.json"))
        assert error_body(exc.value) == sample_body("29-items-bad-json-filter.json")

    def test_30_bad_limit(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(sample_args("30-items-bad-limit.json"))
        assert error_body(exc.value) == sample_body("30-items-bad-limit.json")

    def test_27_bogus_operator_survives_parsing(self) -> None:
        # The 400 needs the field's type, so the compiler raises it (validate_operator);
        # parsing must keep the operator as written.
        q = parse_query(sample_args("27-items-bad-filter-operator.json"))
        assert q.filter == {"status": {"_bogus": "x"}}

    @pytest.mark.parametrize(
        "name",
        [
            "28-items-bad-filter-field.json",
            "31-items-bad-sort-field.json",
            "32-items-bad-fields.json",
        ],
    )
    def test_unknown_names_are_not_rejected_here(self, name: str) -> None:
        parse_query(sample_args(name))  # 403 comes from the schema check, not the parser

    @pytest.mark.parametrize(
        "name",
        [
            "04-items-limit25.json",
            "05-items-filter-sort.json",
            "06-items-fields-relational.json",
            "07-items-aggregate-count-groupby.json",
            "08-items-aggregate-multi.json",
            "09-items-aggregate-count-nogroup.json",
            "10-items-meta-counts.json",
            "11-items-json-filter-search.json",
            "12-items-fields-star-author-star.json",
        ],
    )
    def test_successful_sample_queries_parse(self, name: str) -> None:
        assert isinstance(parse_query(sample_args(name)), Query)

    def test_05(self) -> None:
        q = parse_query(sample_args("05-items-filter-sort.json"))
        assert q.filter == {"status": {"_eq": "published"}}
        assert q.sort == ["-rating"]
        assert q.limit == 25

    def test_07_and_08(self) -> None:
        q = parse_query(sample_args("07-items-aggregate-count-groupby.json"))
        assert q.aggregate == {"count": ["*"]}
        assert q.group == ["status"]
        q = parse_query(sample_args("08-items-aggregate-multi.json"))
        assert q.aggregate == {"avg": ["rating"], "max": ["rating"], "countDistinct": ["author"]}

    def test_10_meta_star(self) -> None:
        q = parse_query(sample_args("10-items-meta-counts.json"))
        assert q.meta == ["total_count", "filter_count"]
        assert q.filter == {"rating": {"_gte": "90"}}
        assert q.limit == 2

    def test_11_json_filter_and_search(self) -> None:
        q = parse_query(sample_args("11-items-json-filter-search.json"))
        assert q.filter == {
            "_and": [
                {"rating": {"_gt": 95}},
                {"author": {"name": {"_contains": "Turing"}}},
            ]
        }
        assert q.search == "directus"
        assert q.fields == ["id", "rating", "title"]

    def test_12_fields(self) -> None:
        q = parse_query(sample_args("12-items-fields-star-author-star.json"))
        assert q.fields == ["*", "author.*"]


# --------------------------------------------------------------------------- parameters


class TestFields:
    def test_default_is_none(self) -> None:
        assert parse_query(args("")).fields is None

    def test_csv_trimmed(self) -> None:
        assert parse_query(args("fields= id , title ,author.name")).fields == [
            "id",
            "title",
            "author.name",
        ]

    def test_list_items_may_hold_csv(self) -> None:
        q = parse_query(args("fields[]=id,title&fields[]=author.*"))
        assert q.fields == ["id", "title", "author.*"]

    def test_empty_entries_dropped(self) -> None:
        assert parse_query(args("fields=id,,title,")).fields == ["id", "title"]
        assert parse_query(args("fields=")).fields is None

    def test_functions(self) -> None:
        q = parse_query(args("fields=id,year(date),count(comments),json(data, a.b[0])"))
        assert q.fields == ["id", "year(date)", "count(comments)", "json(data, a.b[0])"]

    def test_unknown_function(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("fields=shout(title)"))
        assert reason(exc) == 'Invalid function specified "shout"'

    def test_bad_function_arguments(self) -> None:
        with pytest.raises(InvalidQueryError):
            parse_query(args("fields=json(data)"))
        with pytest.raises(InvalidQueryError):
            parse_query(args("fields=year()"))

    def test_non_string_item(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query_dict({"fields": ["id", 3]})
        assert reason(exc) == '"fields[1]" must be a string'


class TestSort:
    def test_csv_and_list(self) -> None:
        assert parse_query(args("sort=-rating, title")).sort == ["-rating", "title"]
        assert parse_query(args("sort[]=-rating&sort[]=id")).sort == ["-rating", "id"]

    def test_function_with_minus(self) -> None:
        assert parse_query(args("sort=-year(date)")).sort == ["-year(date)"]
        with pytest.raises(InvalidQueryError):
            parse_query(args("sort=-nope(date)"))


class TestNumbers:
    @pytest.mark.parametrize("value", ["abc", "1a", "", "true", "NaN", "Infinity", "1_0"])
    def test_limit_not_a_number(self, value: str) -> None:
        if value == "":
            assert parse_query(args("limit=")).limit is None
            return
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args(f"limit={value}"))
        assert reason(exc) == '"limit" must be a number'
        assert exc.value.message == 'Invalid query. "limit" must be a number.'

    @pytest.mark.parametrize(
        "value,expected",
        [("0", 0), ("25", 25), ("-1", -1), (" 7 ", 7), ("5.0", 5), ("1e2", 100), ("+3", 3)],
    )
    def test_limit_ok(self, value: str, expected: int) -> None:
        assert parse_query(MultiDict([("limit", value)])).limit == expected

    def test_limit_non_integer(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("limit=1.5"))
        assert reason(exc) == '"limit" must be an integer'

    def test_limit_below_minus_one(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("limit=-2"))
        assert reason(exc) == '"limit" must be greater than or equal to -1'

    def test_limit_repeated(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("limit=1&limit=2"))
        assert reason(exc) == '"limit" must be a number'

    def test_limit_from_body_types(self) -> None:
        assert parse_query_dict({"limit": 10}).limit == 10
        assert parse_query_dict({"limit": 10.0}).limit == 10
        for bad in (True, [1], {"a": 1}):
            with pytest.raises(InvalidQueryError):
                parse_query_dict({"limit": bad})

    def test_offset(self) -> None:
        assert parse_query(args("offset=20")).offset == 20
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("offset=-1"))
        assert reason(exc) == '"offset" must be greater than or equal to 0'
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("offset=x"))
        assert reason(exc) == '"offset" must be a number'

    def test_page(self) -> None:
        assert parse_query(args("page=3")).page == 3
        # Directus ignores page 0 (it is falsy there); it never means a negative offset.
        assert parse_query(args("page=0")).page is None
        with pytest.raises(InvalidQueryError):
            parse_query(args("page=-1"))
        with pytest.raises(InvalidQueryError):
            parse_query(args("page=two"))


class TestMeta:
    def test_values(self) -> None:
        assert parse_query(args("meta=total_count")).meta == ["total_count"]
        assert parse_query(args("meta=filter_count,total_count")).meta == [
            "filter_count",
            "total_count",
        ]
        assert parse_query(args("meta[]=*")).meta == ["total_count", "filter_count"]
        assert parse_query(args("")).meta == []

    def test_invalid(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("meta=everything"))
        assert reason(exc) == '"meta[0]" must be one of [total_count, filter_count]'


class TestAggregateGroup:
    def test_bracket_csv(self) -> None:
        q = parse_query(args("aggregate[sum]=price,qty&aggregate[count]=*"))
        assert q.aggregate == {"sum": ["price", "qty"], "count": ["*"]}

    def test_bracket_list(self) -> None:
        q = parse_query(args("aggregate[sum][]=price&aggregate[sum][]=qty"))
        assert q.aggregate == {"sum": ["price", "qty"]}

    def test_json(self) -> None:
        q = parse_query(args('aggregate={"avg":["rating"],"count":"*"}'))
        assert q.aggregate == {"avg": ["rating"], "count": ["*"]}

    def test_bad(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("aggregate={oops"))
        assert reason(exc) == '"aggregate" must be of type object'
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("aggregate[median]=x"))
        assert reason(exc) == 'Invalid aggregate function "median"'

    def test_group_forms(self) -> None:
        assert parse_query(args("groupBy=status,year(date)")).group == ["status", "year(date)"]
        assert parse_query(args("groupBy[]=status")).group == ["status"]
        assert parse_query(args("group=status")).group == ["status"]
        assert parse_query_dict({"groupBy": ["a", "b"]}).group == ["a", "b"]
        assert parse_query_dict({"group": "a"}).group == ["a"]


class TestSimpleParams:
    def test_search(self) -> None:
        assert parse_query(args("search=hello world")).search == "hello world"
        assert parse_query(args("search=")).search is None
        assert parse_query_dict({"search": 5}).search is None

    @pytest.mark.parametrize("fmt", ["csv", "csv_utf8", "json", "xml", "yaml"])
    def test_export(self, fmt: str) -> None:
        assert parse_query(args(f"export={fmt}")).export == fmt

    def test_export_invalid(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("export=pdf"))
        assert reason(exc) == '"export" must be one of [csv, csv_utf8, json, xml, yaml]'

    def test_backlink(self) -> None:
        assert parse_query(args("")).backlink is True
        assert parse_query(args("backlink=false")).backlink is False
        assert parse_query(args("backlink=true")).backlink is True
        assert parse_query(args("backlink=0")).backlink is True
        assert parse_query_dict({"backlink": False}).backlink is False

    def test_version(self) -> None:
        q = parse_query(args("version=draft&versionRaw=true"))
        assert q.version == "draft"
        assert q.version_raw is True
        assert parse_query(args("versionRaw=")).version_raw is True
        assert parse_query(args("")).version_raw is False

    def test_unknown_params_ignored(self) -> None:
        assert parse_query(args("access_token=abc&foo[bar]=1")) == Query()


class TestAlias:
    def test_bracket_and_json(self) -> None:
        assert parse_query(args("alias[all]=translations")).alias == {"all": "translations"}
        assert parse_query(args('alias={"n":"name"}')).alias == {"n": "name"}

    def test_bad_json_ignored(self) -> None:
        assert parse_query(args("alias={nope")).alias is None

    def test_dots_rejected(self) -> None:
        with pytest.raises(InvalidQueryError):
            parse_query(args("alias[a]=author.name"))
        with pytest.raises(InvalidQueryError):
            parse_query_dict({"alias": {"a.b": "name"}})

    def test_value_must_be_string(self) -> None:
        with pytest.raises(InvalidQueryError):
            parse_query_dict({"alias": {"a": 1}})


class TestDeep:
    def test_bracket(self) -> None:
        q = parse_query(
            args(
                "deep[translations][_filter][languages_code][_eq]=en"
                "&deep[translations][_limit]=1&deep[translations][_sort]=-id"
            )
        )
        assert q.deep == {
            "translations": Query(filter={"languages_code": {"_eq": "en"}}, limit=1, sort=["-id"])
        }

    def test_nested_relations(self) -> None:
        q = parse_query(args("deep[author][_limit]=2&deep[author][books][_filter][year][_gt]=2000"))
        assert q.deep is not None
        author = q.deep["author"]
        assert author.limit == 2
        assert author.deep == {"books": Query(filter={"year": {"_gt": "2000"}})}

    def test_json_equivalent_to_brackets(self) -> None:
        deep = {
            "translations": {"_filter": {"languages_code": {"_eq": "en"}}, "_limit": "1"},
            "author": {"books": {"_sort": "-id"}},
        }
        bracket = parse_query(
            args(
                "deep[translations][_filter][languages_code][_eq]=en&deep[translations][_limit]=1"
                "&deep[author][books][_sort]=-id"
            )
        )
        assert parse_query(MultiDict([("deep", json.dumps(deep))])) == bracket

    def test_bad_json_ignored(self) -> None:
        assert parse_query(args("deep={not json")).deep is None

    def test_fields_and_deep_keys_ignored(self) -> None:
        q = parse_query(args("deep[author][_fields]=id&deep[author][_deep][x]=1"))
        assert q.deep == {"author": Query()}

    def test_all_options(self) -> None:
        q = parse_query_dict(
            {
                "deep": {
                    "items": {
                        "_filter": '{"a":{"_eq":"true"}}',
                        "_search": "x",
                        "_offset": 5,
                        "_page": 2,
                        "_aggregate": {"count": "*"},
                        "_groupBy": "a",
                        "_alias": {"b": "a"},
                    }
                }
            }
        )
        assert q.deep == {
            "items": Query(
                filter={"a": {"_eq": True}},
                search="x",
                offset=5,
                page=2,
                aggregate={"count": ["*"]},
                group=["a"],
                alias={"b": "a"},
            )
        }

    def test_nested_errors_propagate(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("deep[author][_limit]=abc"))
        assert reason(exc) == '"limit" must be a number'
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("deep[author][_filter]={bad"))
        assert reason(exc) == "Invalid JSON for filter object"


class TestFilterParam:
    def test_bracket_equals_json(self) -> None:
        bracket = parse_query(
            args(
                "filter[_or][0][title][_contains]=a&filter[_or][1][rating][_in]=1,2"
                "&filter[author][name][_eq]=null"
            )
        )
        as_json = parse_query(
            MultiDict(
                [
                    (
                        "filter",
                        json.dumps(
                            {
                                "_or": [
                                    {"title": {"_contains": "a"}},
                                    {"rating": {"_in": ["1", "2"]}},
                                ],
                                "author": {"name": {"_eq": None}},
                            }
                        ),
                    )
                ]
            )
        )
        assert bracket == as_json
        assert bracket.filter == {
            "_or": [{"title": {"_contains": "a"}}, {"rating": {"_in": ["1", "2"]}}],
            "author": {"name": {"_eq": None}},
        }

    def test_json_null_or_empty(self) -> None:
        assert parse_query(args("filter=null")).filter is None
        assert parse_query(args("filter=")).filter is None
        assert parse_query(args("filter={}")).filter is None

    def test_non_object_json(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args("filter=[1,2]"))
        assert reason(exc) == '"filter" must be of type object'

    def test_deeply_nested_json(self) -> None:
        text = '{"a":' * 5000 + "1" + "}" * 5000
        with pytest.raises(InvalidQueryError):
            parse_query(MultiDict([("filter", text)]))

    def test_valueless_null(self) -> None:
        q = parse_query(args("filter[image][_null]&filter[title][_nnull]="))
        assert q.filter == {"image": {"_null": True}, "title": {"_nnull": True}}


class TestSearchBody:
    def test_body_overrides_url(self) -> None:
        q = parse_query(
            args("limit=5&fields=id&sort=id"),
            body={
                "query": {
                    "filter": {"status": {"_eq": "published"}},
                    "fields": ["id", "title"],
                    "limit": 10,
                }
            },
        )
        assert q.limit == 10
        assert q.fields == ["id", "title"]
        assert q.sort == ["id"]
        assert q.filter == {"status": {"_eq": "published"}}

    def test_body_replaces_bracket_filter_whole(self) -> None:
        q = parse_query(args("filter[a][_eq]=1"), body={"query": {"filter": {"b": {"_eq": 2}}}})
        assert q.filter == {"b": {"_eq": 2}}

    def test_body_without_query(self) -> None:
        q = parse_query(args("limit=5"), body={"keys": [1, 2]})
        assert q.limit == 5

    def test_body_query_must_be_object(self) -> None:
        with pytest.raises(InvalidPayloadError):
            parse_query(args(""), body={"query": "limit=1"})

    def test_body_errors_same_as_url(self) -> None:
        with pytest.raises(InvalidQueryError) as exc:
            parse_query(args(""), body={"query": {"limit": "abc"}})
        assert reason(exc) == '"limit" must be a number'


class TestParseQueryDict:
    def test_full(self) -> None:
        q = parse_query_dict(
            {
                "fields": "id,title",
                "filter": {"a": {"eq": "1"}},
                "sort": ["-id"],
                "limit": 3,
                "offset": 1,
                "page": 2,
                "search": "s",
                "meta": "*",
                "aggregate": {"max": "rating"},
                "groupBy": "status",
                "deep": {"author": {"_limit": 1}},
                "alias": {"x": "title"},
            }
        )
        assert q == Query(
            fields=["id", "title"],
            filter={"a": {"_eq": "1"}},
            sort=["-id"],
            limit=3,
            offset=1,
            page=2,
            search="s",
            meta=["total_count", "filter_count"],
            aggregate={"max": ["rating"]},
            group=["status"],
            deep={"author": Query(limit=1)},
            alias={"x": "title"},
        )

    def test_none_and_query(self) -> None:
        assert parse_query_dict(None) == Query()
        original = Query(limit=3, filter={"a": {"_eq": 1}})
        copied = parse_query_dict(original)
        assert copied == original and copied is not original

    def test_not_a_dict(self) -> None:
        with pytest.raises(InvalidQueryError):
            parse_query_dict("limit=1")  # type: ignore[arg-type]

    def test_deep_accepts_query_objects(self) -> None:
        q = parse_query_dict({"deep": {"author": Query(limit=2)}})
        assert q.deep == {"author": Query(limit=2)}


# --------------------------------------------------------------------------- model


class TestQueryModel:
    def full(self) -> Query:
        return parse_query(
            args(
                "fields=id,title&filter[a][_eq]=1&sort=-id&limit=2&offset=1&page=3&meta=*"
                "&aggregate[count]=*&groupBy=a&deep[rel][_limit]=1&deep[rel][sub][_sort]=x"
                "&alias[t]=title&export=csv&version=v1&versionRaw=true&backlink=false"
                "&search=z"
            )
        )

    def test_round_trip_through_dict(self) -> None:
        q = self.full()
        assert parse_query_dict(q.to_dict()) == q

    def test_nested_to_dict_uses_underscores(self) -> None:
        d = self.full().to_dict()
        assert d["deep"] == {"rel": {"_limit": 1, "sub": {"_sort": ["x"]}}}
        assert d["groupBy"] == ["a"]
        assert d["versionRaw"] is True and d["backlink"] is False

    def test_defaults_to_dict_empty(self) -> None:
        assert Query().to_dict() == {}

    def test_cache_key_stable(self) -> None:
        a = parse_query(args("filter[a][_eq]=1&filter[b][_eq]=2&limit=5"))
        b = parse_query(args("limit=5&filter[b][_eq]=2&filter[a][_eq]=1"))
        assert a.cache_key() == b.cache_key()
        assert a.cache_key() != parse_query(args("limit=6")).cache_key()
        json.loads(a.cache_key())

    def test_cache_key_order_of_fields_matters(self) -> None:
        assert (
            parse_query(args("fields=a,b")).cache_key()
            != parse_query(args("fields=b,a")).cache_key()
        )

    def test_cache_key_with_datetimes(self) -> None:
        import datetime as dt

        q = Query(filter={"d": {"_gt": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}})
        assert "2024-01-01T00:00:00+00:00" in q.cache_key()

    def test_copy_is_independent(self) -> None:
        q = self.full()
        c = q.copy(limit=99)
        assert c.limit == 99 and q.limit == 2
        assert c.filter is not q.filter
        assert c.filter is not None
        c.filter["a"]["_eq"] = "changed"
        assert q.filter == {"a": {"_eq": "1"}}
        assert q.copy() == q
