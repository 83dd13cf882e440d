"""The providers and tasks the loaded plugins contributed, collected once per platform."""

from __future__ import annotations

from dataclasses import dataclass

from kernel import Platform, PluginError, StateKey, UniqueRegistry
from plugins.ai.provider import ModelProvider, ModelProviderSpec
from plugins.ai.tasks import TASK_NAME, AiTask


@dataclass
class AiState:
    providers: UniqueRegistry[ModelProviderSpec]
    built: dict[str, ModelProvider]
    tasks: UniqueRegistry[AiTask]

    def provider(self, platform: Platform, name: str) -> ModelProvider:
        """The provider ``name``, built on first use (one per platform)."""
        if name not in self.built:
            self.built[name] = self.providers.get(name).factory(platform)
        return self.built[name]


AI_STATE = StateKey[AiState]("ai")


def configure(platform: Platform) -> AiState:
    providers: UniqueRegistry[ModelProviderSpec] = UniqueRegistry("model provider")
    for plugin, specs in platform.hooks.collect_now("kraliki_ai_providers"):
        for spec in specs:
            if not isinstance(spec, ModelProviderSpec):
                raise PluginError(f"plugin {plugin!r}: kraliki_ai_providers returned {spec!r}")
            if spec.name != plugin:
                raise PluginError(
                    f"plugin {plugin!r}: its model provider must be named {plugin!r}, "
                    f"not {spec.name!r}"
                )
            providers.register(spec.name, spec, plugin=plugin)
    tasks: UniqueRegistry[AiTask] = UniqueRegistry("AI task")
    for plugin, declared in platform.hooks.collect_now("kraliki_ai_tasks"):
        for task in declared:
            if not isinstance(task, AiTask) or not TASK_NAME.match(task.name):
                raise PluginError(f"plugin {plugin!r}: kraliki_ai_tasks returned {task!r}")
            tasks.register(task.name, task, plugin=plugin)
    return AI_STATE.set(platform, AiState(providers=providers, built={}, tasks=tasks))


def ai_state(platform: Platform) -> AiState:
    return AI_STATE.get(platform)
