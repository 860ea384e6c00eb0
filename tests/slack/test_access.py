from bot.config import AccessRule, SlackConfig
from bot.slack.access import AccessPolicy


def policy(config: SlackConfig, groups: dict[str, frozenset[str]] | None = None) -> tuple[AccessPolicy, list[str]]:
    asked: list[str] = []

    def members(group: str) -> frozenset[str]:
        asked.append(group)
        if groups is None:
            raise ConnectionError("Slack unreachable")
        return groups.get(group, frozenset())

    return AccessPolicy(config, members), asked


def test_no_rule_lets_everyone_in():
    access, _ = policy(SlackConfig())
    assert access.refusal("trace", "U1", "C1") is None


def test_global_and_verb_rules_both_apply():
    config = SlackConfig(
        allowed_channels=("C1",),
        verbs={"restore": AccessRule(allowed_users=("UADMIN",), allowed_groups=("SADMINS",))},
    )
    access, asked = policy(config, {"SADMINS": frozenset({"UGROUP"})})
    assert access.refusal("trace", "U1", "C1") is None
    assert "not available in this channel" in (access.refusal("trace", "U1", "C2") or "")
    assert access.refusal("restore", "UADMIN", "C1") is None
    assert access.refusal("restore", "UGROUP", "C1") is None
    assert "not on the list" in (access.refusal("restore", "U1", "C1") or "")
    assert asked == ["SADMINS"]  # members are cached, not asked each time


def test_slack_unreachable_means_refused_not_allowed():
    access, _ = policy(SlackConfig(allowed_groups=("SADMINS",)), None)
    assert access.refusal("trace", "U1", "C1") is not None
