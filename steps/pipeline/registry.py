"""The model registry: each step's model as a new version with the alias `challenger`; `champion` moves to it
only when it scores no worse than the champion on the same rows, scored here (steps/pipeline/promotion.py
decides, steps/pipeline/judges.py scores)."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow.exceptions import MlflowException

from steps.pipeline import judges, promotion
from steps.pipeline.promotion import Verdict
from steps.pipeline.step_runs import StepResults

ALIAS, CHALLENGER = "champion", "challenger"
SOURCE_MODEL = "penguins.model_uri"  # model version tag: the URI it was registered from
VERDICT = "penguins.verdict"  # model version tags: VERDICT is promoted or kept, then VERDICT.<what> for the rest
# Past this many groups only the sweep's router is registered: registering and judging each group's own model
# costs about as much as sweeping that group (docs/performance.md, "The registry").
GROUP_MODELS_UP_TO = 4


@dataclass(frozen=True)
class Candidate:
    name: str  # the registered model's
    model_uri: str
    group: str | None = None  # a group's own model: judged on that group's rows


@dataclass(frozen=True)
class Registration:
    name: str
    version: str  # the challenger's version (the champion's when the model already was the champion)
    champion_before: str | None  # the version that was champion when judged; None for a first version
    verdict: Verdict | None  # None: this model already was the champion, nothing registered

    @property
    def champion(self) -> str:
        """The champion's version after the verdict."""
        return self.version if self.verdict is None or self.verdict.promoted else self.champion_before

    def line(self) -> str:
        if self.verdict is None:
            return f"{self.name}: champion v{self.version} unchanged (the same model)"
        return self.verdict.line(self.name, self.champion_before, self.version)

    def row(self) -> dict[str, str]:
        """The report's champion/challenger table row."""
        verdict = self.verdict or Verdict(True, "the same model")
        scored = bool(verdict.metric)
        return {
            "model": self.name,
            "champion": f"v{self.champion}",
            "challenger": f"v{self.version}",
            "metric": verdict.metric,
            "champion's": promotion.shown(verdict.champion) if scored else "",
            "challenger's": promotion.shown(verdict.challenger) if scored else "",
            "rows": str(verdict.rows) if scored else "",
            "verdict": f"{'promoted' if verdict.promoted else 'kept'}: {verdict.reason}",
        }


def models_of(results: StepResults, group_models_up_to: int = GROUP_MODELS_UP_TO) -> list[Candidate]:
    """The step's model; for the sweep, the router that serves every group (`penguins-clusters-<group_by>`)
    and, up to `group_models_up_to` groups, each group's chosen model (`penguins-dbscan-<group_by>-<group>`)."""
    uri = results.run.data.tags.get("model_uri")
    if results.outcome.entry_point != "cluster_islands":
        return [Candidate(f"penguins-{results.outcome.entry_point.replace('_', '-')}", uri)] if uri else []
    group_by = results.run.data.params.get("group_by")
    models = [Candidate(f"penguins-clusters-{group_by}", uri)] if uri else []
    if len(results.groups) > group_models_up_to:
        return models
    for run in results.groups:
        if "best_model_uri" in run.data.tags:
            group = run.data.tags["penguins.group"]
            models.append(Candidate(f"penguins-dbscan-{group_by}-{group}", run.data.tags["best_model_uri"], group))
    return models


def register_models(client, results: list[StepResults], register: str, table) -> dict[str, list[Registration]]:
    """Each step's models registered and judged (`register`: true, or force to skip judging); by entry point."""
    registered = {}
    for step in results:
        judge = judges.judge_for(step, table)
        if step.outcome.entry_point == "cluster_islands" and len(step.groups) > GROUP_MODELS_UP_TO:
            print(
                f"main: {len(step.groups)} groups: only the router is registered "
                f"(each group's own model is, up to {GROUP_MODELS_UP_TO} groups)"
            )
        registrations = []
        for candidate in models_of(step):
            registration = register_challenger(client, candidate, judge, force=register == "force")
            print(f"main: {registration.line()}")
            registrations.append(registration)
        registered[step.outcome.entry_point] = registrations
    return registered


def register_challenger(client, candidate: Candidate, judge: judges.Judge, force: bool = False) -> Registration:
    """The candidate as a version aliased CHALLENGER, judged against the champion, which it replaces when
    promoted. A model registered before (a step main reused) is not registered again: its version is judged anew."""
    name, model_uri = candidate.name, candidate.model_uri
    champion = champion_of(client, name)
    if champion is not None and champion.tags.get(SOURCE_MODEL) == model_uri:  # `source` is rewritten
        return Registration(name, champion.version, champion.version, None)
    verdict = verdict_on(champion, candidate, judge, force)
    tags = verdict_tags(verdict, champion)
    version = earlier_version(client, name, model_uri)
    if version is None:
        version = str(mlflow.register_model(model_uri, name, tags={SOURCE_MODEL: model_uri, **tags}).version)
    else:
        set_version_tags(client, name, version, tags)
    client.set_registered_model_alias(name, CHALLENGER, version)
    # Aliases have no compare-and-set: re-read the champion just before moving it; judge again if it moved.
    latest = champion_of(client, name)
    if (latest and latest.version) != (champion and champion.version):
        champion, verdict = latest, verdict_on(latest, candidate, judge, force)
        set_version_tags(client, name, version, verdict_tags(verdict, champion))
    if verdict.promoted:
        client.set_registered_model_alias(name, ALIAS, version)
    return Registration(name, version, champion and champion.version, verdict)


def verdict_on(champion, candidate: Candidate, judge: judges.Judge, force: bool) -> Verdict:
    if champion is None:
        return promotion.first_version()
    if force:
        return promotion.forced()
    return judge(f"models:/{candidate.name}/{champion.version}", candidate.model_uri, candidate.group)


def champion_of(client, name: str):
    try:
        return client.get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None  # no such model or alias yet


def earlier_version(client, name: str, model_uri: str) -> str | None:
    """The version of `name` registered from `model_uri` before, if any."""
    try:
        found = client.search_model_versions(f"name = '{name}' and tags.`{SOURCE_MODEL}` = '{model_uri}'")
    except MlflowException:
        return None  # no such model yet
    return max((v.version for v in found), key=int, default=None)


def verdict_tags(verdict: Verdict, champion) -> dict[str, str]:
    """The version's tags: VERDICT (promoted or kept), its reason, and what both scored, at full precision."""
    tags = {VERDICT: "promoted" if verdict.promoted else "kept", f"{VERDICT}.reason": verdict.reason[:5000]}
    if champion is not None:
        tags[f"{VERDICT}.champion_version"] = champion.version
    if verdict.metric:
        tags[f"{VERDICT}.metric"] = verdict.metric
        tags[f"{VERDICT}.champion_score"] = repr(verdict.champion)
        tags[f"{VERDICT}.challenger_score"] = repr(verdict.challenger)
        tags[f"{VERDICT}.rows"] = str(verdict.rows)
    return tags


def set_version_tags(client, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
