"""How the command line reads its words: a mistyped option is an error that names the option meant,
an rclip-style ``-term`` counts only inside the quoted query, and a search typed without ``find``
is pointed at it.

Click reads an unknown ``--limt`` in ``find "a guitar" --limt 2`` as an error only when it is told
to; told to let it through, it becomes two query words. So the commands here sort their words
first, with Click's own table of options: known options (and their values) wherever they stand,
everything else a word of the query, and a word that looks like an option but is none an error.
"""

from __future__ import annotations

import difflib
import re
import shlex
from typing import Any

from typer.core import TyperCommand, TyperGroup

# the first word of `vidsearch search a dog`: what people type when they mean find
SEARCH_WORDS = frozenset({"search", "query", "grep", "look", "lookup", "seek", "ask", "show"})


def _option_table(ctx: Any) -> dict[str, bool]:
    """Every option name of ``ctx``'s command -> whether it takes a value."""
    table: dict[str, bool] = {}
    for param in ctx.command.get_params(ctx):
        if getattr(param, "param_type_name", "") != "option":
            continue
        flag = bool(getattr(param, "is_flag", False) or getattr(param, "count", False))
        for name in param.opts:
            table[name] = not flag
        for name in getattr(param, "secondary_opts", ()):
            table[name] = False
    return table


def _is_option(word: str, table: dict[str, bool]) -> tuple[bool, bool]:
    """(is a known option, its value is the next word) for ``word``."""
    if word.startswith("--"):
        name, eq, _ = word.partition("=")
        return (name in table, table.get(name, False) and not eq)
    if word in table:
        return True, table[word]
    if len(word) > 2 and table.get(word[:2]):  # -n4: a short option with its value attached
        return True, False
    if len(word) > 2 and all(table.get("-" + c) is False for c in word[1:]):  # -0q: short flags together
        return True, False
    return False, False


def _unknown_option(ctx: Any, word: str, table: dict[str, bool], query: list[str] | None) -> str:
    """The message for ``word``, which looks like an option but is none: the option meant, when one
    is close; for a query command, how to write a ``-term`` instead."""
    name = word.partition("=")[0]
    close = difflib.get_close_matches(name, [n for n in table if n.startswith("--")], n=1, cutoff=0.6)
    if close:
        return f"No such option: {name}. Did you mean {close[0]}?"
    if query is not None and re.fullmatch(r"-\w[\w'-]*", name):
        wanted = " ".join([*query, word])
        return (f"No such option: {name}. To leave out moments showing {name[1:]!r}, put it inside the "
                f"quoted query: {ctx.command_path} {quote(wanted)}")
    return f"No such option: {name}."


def quote(text: str) -> str:
    """``text`` as one shell word, in double quotes where that reads more naturally than single."""
    if text and re.fullmatch(r"[\w@%+=:,./~-]+", text):
        return text
    if not re.search(r'["$`\\!]', text):
        return f'"{text}"'
    return shlex.quote(text)


class Command(TyperCommand):
    """A command that refuses unknown options, saying which option was meant."""

    #: find and play: words that are not options form the query; after ``--`` a ``-word`` is a
    #: negated term of the query, yet the command's own options (``-n 4``) still count
    query_words = False

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:  # completion parses half-typed lines: let Click be lenient
            args = self.sort_words(ctx, list(args))
        return super().parse_args(ctx, args)

    def sort_words(self, ctx: Any, args: list[str]) -> list[str]:
        """``args`` as options (in their order) then ``--`` and the other words; ctx.fail for a word
        that looks like an option but is none."""
        table = _option_table(ctx)
        options: list[str] = []
        words: list[str] = []
        after_dashes = False
        i = 0
        while i < len(args):
            word = args[i]
            i += 1
            if word == "--" and not after_dashes:
                after_dashes = True
                continue
            looks_like_option = word.startswith("-") and word != "-"
            if looks_like_option and (not after_dashes or self.query_words):
                known, takes_next = _is_option(word, table)
                if known:
                    options.append(word)
                    if takes_next:
                        if i == len(args):
                            ctx.fail(f"Option {word!r} requires an argument.")
                        options.append(args[i])  # its value, even one that starts with '-'
                        i += 1
                    continue
            if not looks_like_option or after_dashes or (self.query_words and any(c.isspace() for c in word)):
                words.append(word)  # a quoted query may begin with a -term: "-cat on a sofa"
                continue
            ctx.fail(_unknown_option(ctx, word, table, words if self.query_words else None))
        return options + (["--", *words] if words else [])


class QueryCommand(Command):
    """``find`` and ``play``: a query of free words beside options."""

    query_words = True


class Group(TyperGroup):
    """The root command: an unknown command that reads like a search is pointed at ``find``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        first = args[0] if args else ""
        if (
            first
            and not first.startswith("-")
            and not ctx.resilient_parsing
            and self.get_command(ctx, first) is None
            and not difflib.get_close_matches(first, list(self.commands))  # a typo of a command: Typer says which
        ):
            words = args[1:] if first.lower() in SEARCH_WORDS and len(args) > 1 else args
            suggestion = " ".join(quote(w) for w in words)
            ctx.fail(f"No such command {first!r}. To search, use find: {ctx.command_path} find {suggestion}")
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:  # the options before the command (--version, --help)
            table = _option_table(ctx)
            for word in args:
                if not word.startswith("-") or word == "--":
                    break
                if not _is_option(word, table)[0]:
                    ctx.fail(_unknown_option(ctx, word, table, None))
        return super().parse_args(ctx, args)
