"""How a run's options merge with its assistant's (runs.services.assistants.merged_options)."""

from runs.services.assistants import Resolved, merged_options

PLAIN = Resolved("id", "agent")
TERSE = Resolved(
    "id",
    "agent",
    config={"tags": ["terse"], "configurable": {"reply_words": 3, "token_delay": 0}},
    context={"reply_words": 3, "token_delay": 0},
)


def test_an_assistant_without_options_changes_nothing():
    assert merged_options(PLAIN, None, None) == (None, None)
    config = {"configurable": {"reply_words": 5}}
    assert merged_options(PLAIN, config, {"x": 1}) == (config, {"x": 1})


def test_the_run_gets_the_assistant_s_options():
    config, context = merged_options(TERSE, None, None)
    assert config == TERSE.config and context == TERSE.context


def test_the_run_s_options_win_key_by_key():
    config, context = merged_options(
        TERSE, {"recursion_limit": 5, "configurable": {"token_delay": 1}}, {"extra": True}
    )
    assert config == {
        "tags": ["terse"],
        "recursion_limit": 5,
        "configurable": {"reply_words": 3, "token_delay": 1},
    }
    # token_delay set in configurable also beats the assistant's context,
    # which graphs read first.
    assert context == {"reply_words": 3, "extra": True}


def test_an_option_in_the_run_s_context_beats_the_assistant_s_configurable():
    config, context = merged_options(TERSE, None, {"reply_words": 9})
    assert config["configurable"] == {"token_delay": 0}
    assert context == {"reply_words": 9, "token_delay": 0}


def test_options_that_are_not_objects_are_left_for_the_checks():
    assert merged_options(TERSE, ["bad"], None) == (["bad"], None)
    assert merged_options(TERSE, None, "bad") == (None, "bad")
    assert merged_options(TERSE, {"configurable": 3}, None) == ({"configurable": 3}, None)
