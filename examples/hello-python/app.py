"""hello-python: the Python twin of examples/hello, the sample handler the
Python CI examples package (codebuild/buildspec-python.yml,
github-actions/release-python.yml): handler app.handler on Lambda's python3.12
runtime. It answers API Gateway's proxy events with {"message", "version",
"stage"} and says which version answered."""

import json
import os

GREETING = "Hello from Lambda"


def handler(event, context):
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "")
    body = {"message": GREETING, "version": version}
    stage = ((event or {}).get("requestContext") or {}).get("stage")
    if stage:
        body["stage"] = stage
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Hello-Version": version},
        "body": json.dumps(body),
    }
