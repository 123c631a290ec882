"""What each model accepts and emits, per the Anthropic documentation: the fake server's model table.

Owns the per-model facts the fake enforces (context window, output limit, forced tool_choice,
thinking defaults and refused `thinking.type` values, sampling parameters, prefill, effort
levels, the minimum cacheable prompt, preserved thinking). It is deliberately independent of
diffcrew's own model and pricing tables, so that the fake can catch the client's mistakes.
The set of ids is the SDK's `anthropic.types.model.Model` list (a test keeps them equal); any
other id is answered 404 `not_found_error` "model: <id>".

Sources (platform.claude.com/docs/en/..., read 2026-09/11 through mirrors and the docs corpus):
  CW      build-with-claude/context-windows: 1M window and 128k output for every 4.6+ / 5.x
          model and Mythos Preview; "Other Claude models ... have a 200k-token context window".
  TH      build-with-claude/thinking: "Output limits" table (Opus 4.5, Haiku 4.5: 64K); sampling
          parameters ("non-default temperature, top_p, or top_k values return a 400 error on every
          request" on Fable 5/5.1, Mythos 5/5.1/Preview, Opus 5.5/5/4.8/4.7, Sonnet 5; "On older
          models, the restriction applies only while thinking is on"); forced tool use with
          adaptive thinking is supported "except on Claude Opus 5.5, Claude Fable 5.1, and Claude
          Mythos 5.1"; `display` defaults to "omitted" on 4.7+ / 5.x, "summarized" on 4.6 and earlier.
  TT      build-with-claude/thinking-troubleshooting: per-model table of thinking types, defaults
          ("Always on" / "On" / "Off") and the values "rejected with 400"; "Only Claude Sonnet
          5.5 accepts between_tools"; Opus 5 "accepts disabled at effort high or below".
  ERR     api/errors: forced tool_choice refused by Opus 5.5, Fable 5.1, Mythos 5.1 ("including on
          the token counting endpoint"); prefill refused by "Claude 4.6 and later models and
          Claude Mythos Preview"; the thinking.type messages.
  EF      build-with-claude/effort: `max` and `xhigh` availability lists; "high ... the default on
          every model that supports effort except Claude Opus 5.5"; Haiku 4.5 is not listed.
  PC      build-with-claude/prompt-caching: minimum cacheable length per model.
  PT      build-with-claude/preserved-thinking (+ /prefix-checks): supportedModels of the prefix check.
  WN:*    models/<m>/whats-new-<m>: Sonnet 5.5 ("Forced tool use returns an error", between_tools,
          default effort high), Haiku 5.5 (adaptive, default effort medium), Fable/Mythos 5.2
          ("Four changes from Claude Fable 5.1", none of them lifts a 5.1 refusal: inherited).
  MG:*    models/<m>/migration-guide: Sonnet 5.5 and Haiku 5.5 refuse sampling parameters,
          prefill and thinking budgets.
Values marked "inferred" are not stated for that model by the docs (see the report of issue 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

EFFORTS = ("low", "medium", "high", "xhigh", "max")
ALL_EFFORTS = frozenset(EFFORTS)
NO_XHIGH = frozenset({"low", "medium", "high", "max"})


@dataclass(frozen=True)
class ModelRules:
    """The documented behaviour of one model id."""
    context_window: int = 1_000_000            # CW
    max_output: int = 128_000                  # CW, TH "Output limits" (synchronous ceiling)
    forced_tool_choice: bool = True            # False: `tool` / `any` answered 400 (ERR, TH, WN)
    thinking_default: str = "off"              # "always" (cannot be turned off), "on", "off" (TT)
    thinking_refused: frozenset[str] = frozenset({"between_tools"})  # thinking.type values -> 400 (TT)
    disabled_up_to: str | None = None          # "disabled" accepted only at this effort or lower (TT)
    between_tools_up_to: str | None = None     # Sonnet 5.5 only (WN:sonnet-5-5)
    sampling_always_refused: bool = True       # False: refused only while thinking is on (TH)
    prefill_refused: bool = True               # False: refused only while thinking is on (ERR, TH)
    effort_levels: frozenset[str] = ALL_EFFORTS  # empty: effort not supported (EF)
    effort_default: str | None = "high"        # EF
    cache_minimum: int = 512                   # PC
    preserved_thinking: bool = False           # the prefix check runs (PT supportedModels)
    display_default: str = "omitted"           # TH "Controlling thinking display"
    thinking_messages: dict[str, str] = field(default_factory=dict, compare=False)  # per-model wording

    def thinks_by_default(self) -> bool:
        return self.thinking_default in ("always", "on")


# Fable 5.1 / Mythos 5.1: thinking always on, forced tool use refused, preserved thinking
# (ERR "Thinking cannot be disabled", TT rows, PT supportedModels, PC 512, EF all five, default high).
_FABLE_5_1 = ModelRules(forced_tool_choice=False, thinking_default="always",
                        thinking_refused=frozenset({"enabled", "disabled", "between_tools"}), preserved_thinking=True)
# Fable 5 / Mythos 5: always on (ERR), forced tool use accepted (not in the ERR list), not preserved (PT).
_FABLE_5 = replace(_FABLE_5_1, forced_tool_choice=True, preserved_thinking=False)
# Opus 4.8 / 4.7 / Sonnet 5 family: adaptive only, extended thinking removed (ERR "Claude 4.7 and later").
_ADAPTIVE_ONLY = frozenset({"enabled", "between_tools"})
# Claude 4.6: adaptive and (deprecated) extended thinking, sampling only refused with thinking (TH, TT "None").
_CLAUDE_4_6 = ModelRules(sampling_always_refused=False, effort_levels=NO_XHIGH, display_default="summarized")
# Claude 4.5: extended thinking only (ERR "Adaptive thinking not supported"), 200K / 64K (CW, TH).
_CLAUDE_4_5 = ModelRules(context_window=200_000, max_output=64_000, thinking_refused=frozenset({"adaptive", "between_tools"}),
                         sampling_always_refused=False, prefill_refused=False, cache_minimum=4096,
                         display_default="summarized")

MODELS: dict[str, ModelRules] = {
    # WN:fable-5-2: 1M / 128k, "adaptive thinking is always on"; the prefix check "applies to every
    # account"; everything else inherited from Fable 5.1 (inferred, incl. the 512 cache minimum).
    "claude-fable-5-2": _FABLE_5_1,
    "claude-mythos-5-2": _FABLE_5_1,
    # WN:haiku-5-5, MG:haiku-5-5: adaptive and on, default effort medium, sampling / prefill / budgets
    # refused; forced tool use is NOT in its list of refusals (accepted, inferred); "disabled" only at
    # effort high or lower and the 512 minimum are third-party observations (inferred).
    "claude-haiku-5-5": ModelRules(thinking_default="on", thinking_refused=_ADAPTIVE_ONLY, disabled_up_to="high",
                                   effort_default="medium", preserved_thinking=True),
    # WN:sonnet-5-5: forced tool use refused; "disabled" refused in favour of between_tools, which works
    # at low, medium and high effort; default effort high; PT lists it; 512 minimum inferred.
    "claude-sonnet-5-5": ModelRules(
        forced_tool_choice=False, thinking_default="on", thinking_refused=frozenset({"enabled", "disabled"}),
        between_tools_up_to="high", preserved_thinking=True,
        thinking_messages={"disabled": '"thinking.type.disabled" is not supported for this model. Use '
                                       '"thinking.type.between_tools" for the lowest thinking setting, or '
                                       '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'}),
    "claude-fable-5-1": _FABLE_5_1,
    # EF: "medium ... The default on Claude Opus 5.5"; otherwise as Fable 5.1 (ERR, TT, PT).
    "claude-opus-5-5": replace(_FABLE_5_1, effort_default="medium"),
    "claude-mythos-5-1": _FABLE_5_1,
    # TT: Sonnet 5 "Adaptive only | On | enabled"; PC 1,024.
    "claude-sonnet-5": ModelRules(thinking_default="on", thinking_refused=_ADAPTIVE_ONLY, cache_minimum=1024),
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    # TT: Opus 5 "Adaptive only | On | enabled, disabled²" (² disabled accepted at effort high or below).
    "claude-opus-5": ModelRules(thinking_default="on", thinking_refused=_ADAPTIVE_ONLY, disabled_up_to="high"),
    # TT: Opus 4.8 "Adaptive only | Off | enabled"; PC 1,024 (4.8) and 2,048 (4.7).
    "claude-opus-4-8": ModelRules(thinking_refused=_ADAPTIVE_ONLY, cache_minimum=1024),
    "claude-opus-4-7": ModelRules(thinking_refused=_ADAPTIVE_ONLY, cache_minimum=2048),
    # TT: Mythos Preview "Adaptive, extended | Always on | disabled"; EF: max yes, xhigh no; PC 2,048.
    "claude-mythos-preview": ModelRules(
        thinking_default="always", thinking_refused=frozenset({"disabled", "between_tools"}),
        effort_levels=NO_XHIGH, cache_minimum=2048,
        thinking_messages={"disabled": '"thinking.type.disabled" is not supported for this model. Thinking defaults to '
                                       'adaptive mode when not specified; use "thinking.type.enabled" with '
                                       '"budget_tokens" for extended thinking.'}),
    # TT: Opus 4.6 / Sonnet 4.6 "Adaptive, extended (deprecated) | Off | None"; PC 4,096 / 1,024.
    "claude-opus-4-6": replace(_CLAUDE_4_6, cache_minimum=4096),
    "claude-sonnet-4-6": replace(_CLAUDE_4_6, cache_minimum=1024),
    # TT: Haiku 4.5 "Extended only | Off | adaptive"; EF: no effort; PC 4,096.
    "claude-haiku-4-5": replace(_CLAUDE_4_5, effort_levels=frozenset(), effort_default=None),
    "claude-haiku-4-5-20251001": replace(_CLAUDE_4_5, effort_levels=frozenset(), effort_default=None),
    # EF compatibility lists Opus 4.5 (low, medium, high); PC 4,096.
    "claude-opus-4-5": replace(_CLAUDE_4_5, effort_levels=frozenset({"low", "medium", "high"})),
    "claude-opus-4-5-20251101": replace(_CLAUDE_4_5, effort_levels=frozenset({"low", "medium", "high"})),
}

# The messages the API gives for a refused thinking.type (ERR "Extended thinking not supported",
# "Adaptive thinking not supported", "Thinking cannot be disabled"; between_tools: observed
# wording, third party). A model's `thinking_messages` overrides these.
THINKING_MESSAGES = {
    "enabled": '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
               '"output_config.effort" to control thinking behavior.',
    "adaptive": "adaptive thinking is not supported on this model",
    "disabled": '"thinking.type.disabled" is not supported for this model. Use "thinking.type.adaptive" and '
                '"output_config.effort" to control thinking behavior.',
    "between_tools": '"thinking.type.between_tools" is not supported for this model.',
}


def rules_for(model: str) -> ModelRules | None:
    """The rules of a known model id, else None (the API's 404)."""
    return MODELS.get(model)


def thinking_message(rules: ModelRules, kind: str) -> str:
    return rules.thinking_messages.get(kind) or THINKING_MESSAGES[kind]


def effort_rank(effort: str) -> int:
    return EFFORTS.index(effort) if effort in EFFORTS else len(EFFORTS)
