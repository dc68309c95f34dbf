"""The ``lang`` argument of collections with translations (``blog_posts(lang: "es")``).

GraphQL's side of transom-i18n, reached through the plugin manager (as metrics asks the
cache) so this package does not depend on it: the argument is offered only where a
collection has a Directus-style ``translations`` alias, and answered by the i18n plugin,
which folds that language into the items read.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLArgument, GraphQLString

from transom.api import InvalidQueryError, SchemaSnapshot, current_cms

I18N_PLUGIN = "i18n"


def translated(snapshot: SchemaSnapshot, collection: str) -> bool:
    """Whether ``collection`` has a translations alias (special ``translations``)."""
    coll = snapshot.get(collection)
    return coll is not None and any(
        f.is_alias and "translations" in f.special for f in coll.fields.values())


def lang_argument() -> GraphQLArgument:
    return GraphQLArgument(GraphQLString, description="Content language of translated "
                                                      "fields (transom-i18n).")


def apply_lang(args: dict[str, Any], collection: str) -> None:
    """Hand ``args["lang"]`` to transom-i18n for the read about to run."""
    code = args.get("lang")
    cms = current_cms()
    plugin = cms.pm.get_plugin(I18N_PLUGIN)
    if plugin is None or not hasattr(plugin, "use_language"):
        if code is not None:
            raise InvalidQueryError('"lang" needs the transom-i18n plugin')
        return
    plugin.use_language(cms, collection, code)  # None: the request's own language
