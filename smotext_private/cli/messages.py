"""Every CLI error as ONE line on stderr: ``smotext-private[ COMMAND]: error: ...``.

Usage errors keep argparse's words (typer's own multi-line "Usage: ... Try --help" box is never
shown); library errors name parameters (``per_class``), which ``FLAGS`` turns into this CLI's flags.
"""

from __future__ import annotations

import re

from smotext_private.backends.registry import PROFILES
from smotext_private.errors import SmotextError

PROG = "smotext-private"

# The one table from the library's parameter names to this CLI's flags.  Library messages name
# parameters ("per_class must be ...", "pass force=True ..."); ``cli_message`` rewrites them.
FLAGS = {
    "per_class": "--per-class", "k": "--k", "n_candidates": "--candidates", "lambda_range": "--lambda-range",
    "parent_draw": "--parent-draw", "target_noise": "--target-noise", "fidelity_sample": "--fidelity-sample",
    "seed": "--seed", "out": "--out",
    "force": "--force", "resume": "--resume", "keep_work": "--keep-work", "templates": "--templates",
    "policy": "--policy", "text_column": "--text-column", "label_column": "--label-column",
    "allow_download": "--allow-download", "encoder_path": "--encoder-path", "decoder_path": "--decoder-path",
    "bridge": "--bridge", "limit": "--limit", "sources": "--sources", "run_dir": "--run-dir", "steps": "--steps",
    "batch_size": "--batch-size", "lr": "--lr", "device": "--device", "init_from": "--init-from",
    "lora_rank": "--lora-rank", "lora_alpha": "--lora-alpha", "max_target_tokens": "--max-target-tokens",
    "sign_key": "--sign-key", "public_key": "--public-key", "expect_sha256": "--expect-sha256",
    "whole_records": "--whole-records", "adapt_decoder": "--adapt-decoder", "adapt_epochs": "--adapt-epochs", "label_gate": "--label-gate", "retries": "--retries", "choose": "--choose", "decode_backend": "--decode-backend", "decoder": "--decoder",
    "engine": "--engine", "ray_address": "--ray-address", "actors": "--actors", "decoding": "--decoding",
    "peer_row": "--no-peer-row",
}
# the values a choice option takes (argparse's "invalid choice" names them)
CHOICES = {"parent_draw": ("uniform", "balanced"), "profile": tuple(PROFILES), "decode_backend": ("hf", "vllm"),
           "engine": ("local", "ray"), "decoding": ("sample", "guided")}

_KEYWORD = re.compile(r"\b([a-z][a-z0-9_]*)=(True\b|'[^']*')")


def one_line(text: str) -> str:
    return " ".join(text.split())


def cli_message(exc: SmotextError) -> str:
    """The library's message in this CLI's words: ``force=True`` -> ``--force``, ``device='cpu'`` ->
    ``--device cpu``, and the parameter the error names (``exc.param``) -> its flag, at its first
    mention as a word of its own (not inside a path, not already a flag)."""
    def keyword(m: re.Match) -> str:
        flag = FLAGS.get(m[1])
        if flag is None:
            return m[0]
        return flag if m[2] == "True" else f"{flag} {m[2][1:-1]}"

    msg = _KEYWORD.sub(keyword, str(exc))
    param = getattr(exc, "param", None)
    if param in FLAGS:
        msg = re.sub(rf"(?<![\w/.\-]){re.escape(param)}(?![\w/.\-=])", FLAGS[param], msg, count=1)
    return one_line(msg)


def error_line(exc: SmotextError) -> str:
    return f"{PROG}: error: {cli_message(exc)}"


# -- typer's usage errors -----------------------------------------------------------------------
def _flag(param) -> str:
    opts = [o for o in getattr(param, "opts", ()) or () if o.startswith("-")]
    return opts[0] if opts else param.name


_CLICK_WORDS = (  # the refusals of typer's click types (typer < 0.29), in argparse's words
    (re.compile(r"(.+) is not a valid integer( range)?\."), lambda m: f"invalid int value: {m[1]}"),
    (re.compile(r"(.+) is not a valid float( range)?\."), lambda m: f"invalid float value: {m[1]}"),
    (re.compile(r"(\S+) is not in the range x>=0\."), lambda m: f"must be a non-negative integer, got {m[1]}"),
    (re.compile(r"(\S+) is not in the range x>=(\d+)\."), lambda m: f"must be an integer >= {m[2]}, got {m[1]}"),
    (re.compile(r"(.+) is not one of (.+)\."), lambda m: f"invalid choice: {m[1]} (choose from {m[2]})"),
)


def _reason(exc, param) -> str:
    """Why a value was refused, in argparse's words, naming the value as typed.

    typer >= 0.29 checks types and ranges (``min=``) with pydantic, whose ``errors()`` give the
    kind of refusal and the text the user typed; older typers word it themselves (``_CLICK_WORDS``).
    """
    cause = exc.__cause__
    errors = cause.errors() if hasattr(cause, "errors") else []
    message = exc.message.removeprefix("Value error, ")
    if not errors:
        for pattern, words in _CLICK_WORDS:
            m = pattern.fullmatch(message)
            if m:
                return words(m)
        return message  # a check of ours (``typer.BadParameter``), already in these words
    kind, raw = errors[0].get("type"), errors[0].get("input")
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"invalid int value: {raw!r}"
    if kind in ("float_parsing", "float_type"):
        return f"invalid float value: {raw!r}"
    if kind == "greater_than_equal":
        low = (errors[0].get("ctx") or {}).get("ge")
        return f"must be a non-negative integer, got {raw}" if low == 0 else f"must be an integer >= {low}, got {raw}"
    if param.name in CHOICES:
        return f"invalid choice: {raw!r} (choose from {', '.join(repr(c) for c in CHOICES[param.name])})"
    return message


def _missing(exc, param, args) -> str:
    """argparse named every missing argument at once: the one typer stopped at, then the required
    options after it that the command line does not give either."""
    ctx = exc.ctx
    names = [_flag(param)]
    for p in ctx.command.params if ctx is not None else ():
        given = any(a == o or a.startswith(o + "=") for o in p.opts for a in args)
        if p.required and p is not param and p.opts[0].startswith("-") and p.name not in ctx.params and not given:
            names.append(_flag(p))
    return ", ".join(names)


def _bad_usage(exc) -> str:
    message = exc.format_message()
    m = re.fullmatch(r"Option '(.+)' requires (\d+) arguments?\.?", message)
    if m:
        return f"argument {m[1]}: expected {m[2]} arguments"
    m = re.fullmatch(r"Option '(.+)' does not take a value\.?", message)
    if m:
        return f"argument {m[1]}: takes no value"
    m = re.fullmatch(r"Got unexpected extra arguments? \((.*)\)|Got unexpected extra argument\(s\) \((.*)\)", message)
    if m:
        return f"unrecognized arguments: {m[1] or m[2]}"
    if type(exc).__name__ == "NoSuchOption":
        return f"unrecognized arguments: {exc.option_name}"
    return message


def is_usage_error(exc: BaseException) -> bool:
    """typer's usage errors (its click core's ``UsageError`` and kin: exit code 2, ``format_message``)."""
    return not isinstance(exc, SmotextError) and getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message")


def usage_line(exc, args: list[str] = ()) -> str:
    """One line for a typer usage error (a missing option or argument, a bad value, an unknown option,
    an extra argument); ``args``: the command line, to name every missing option."""
    ctx = getattr(exc, "ctx", None)
    prog = ctx.command_path if ctx is not None else PROG
    param = getattr(exc, "param", None)
    if param is not None and not exc.message:  # missing
        text = f"the following arguments are required: {_missing(exc, param, args)}"
    elif param is not None:
        text = f"argument {_flag(param)}: {_reason(exc, param)}"
    else:
        text = _bad_usage(exc)
    return one_line(f"{prog}: error: {text}")


def missing_command() -> str:
    return f"{PROG}: error: the following arguments are required: cmd"


def unknown_command(name: str, commands) -> str:
    choices = ", ".join(repr(c) for c in commands)
    return f"{PROG}: error: argument cmd: invalid choice: {name!r} (choose from {choices})"
