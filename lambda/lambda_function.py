"""AWS Lambda entry point: `lambda_function.lambda_handler`.

The skill is built once per container (cold start) and reused by every warm invocation.
"""

from skill.builder import build_skill
from skill.config import Settings

skill = build_skill(Settings.from_env())


def lambda_handler(event, context):
    return skill.handle(event, context)
