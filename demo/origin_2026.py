"""The demo MCP origin for MCP revision 2026-07-28, on the official Python SDK 2.x (`mcp==2.3.0`).

A stateless Streamable HTTP server: no `initialize`, no `Mcp-Session-Id`; each POST carries its
revision in `_meta["io.modelcontextprotocol/protocolVersion"]` (and the `MCP-Protocol-Version`,
`Mcp-Method` and `Mcp-Name` headers) and `server/discover` says what the server supports. Clients
of the earlier revisions still get the `initialize` handshake, served statelessly.

It serves three demo tools, like the JS demo origin (`demo/origin.mjs`):
  - `echo`   returns its `message`;
  - `add`    adds two integers (a structured result);
  - `slow`   takes `ms` milliseconds, sending `steps` progress notifications on the way;
and the tools, resources and prompts that the official conformance suite's server scenarios for
2026-07-28 call (`@modelcontextprotocol/conformance`, `server --requirements 2026-07-28`), so the
suite can be run against it directly and through the gateway (tests/revision_2026.test.mjs).

    .tools/py2/bin/python demo/origin_2026.py [PORT]        (or PORT=… in the environment)

Listens on 127.0.0.1; port 0 picks a free one. Once listening it prints one line,
`origin_2026 listening on http://127.0.0.1:<port>/mcp`, which the tests wait for.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
from typing import Any

import uvicorn
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer, RequestStateSecurity
from mcp.server.mcpserver.prompts.base import Prompt, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import (
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    InputRequest,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)

# A 1x1 PNG and a tiny WAV, base64: the same fixtures as demo/conformance-fixtures.mjs.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

# requestState (SEP-2322) is sealed by the SDK with this key; a fixed demo key, at least 32 bytes.
REQUEST_STATE_KEY = b"gatehouse-demo-origin-2026-request-state-key"

mcp = MCPServer(
    name="gatehouse-demo-origin-2026",
    version="1.0.0",
    request_state_security=RequestStateSecurity(keys=[REQUEST_STATE_KEY]),
)


# ---- the demo tools ---------------------------------------------------------------------------


@mcp.tool()
def echo(message: str) -> str:
    """Echoes the message back."""
    return message


@mcp.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@mcp.tool()
async def slow(ctx: Context, ms: int = 500, steps: int = 5) -> str:
    """Takes `ms` milliseconds (at most 10 s), reporting progress `steps` times on the way."""
    ms = max(0, min(ms, 10_000))
    steps = max(1, min(steps, 100))
    for i in range(1, steps + 1):
        await asyncio.sleep(ms / steps / 1000)
        await ctx.report_progress(progress=i, total=steps, message=f"step {i}/{steps}")
    return f"slept {ms} ms in {steps} steps"


# ---- conformance fixtures: content -------------------------------------------------------------


@mcp.tool()
def test_simple_text() -> str:
    """Returns simple text."""
    return "This is a simple text response for testing."


@mcp.tool()
def test_image_content() -> list[ImageContent]:
    """Returns an image."""
    return [ImageContent(type="image", data=PNG, mime_type="image/png")]


@mcp.tool()
def test_audio_content() -> list[AudioContent]:
    """Returns audio."""
    return [AudioContent(type="audio", data=WAV, mime_type="audio/wav")]


@mcp.tool()
def test_embedded_resource() -> list[EmbeddedResource]:
    """Returns an embedded resource."""
    resource = TextResourceContents(uri="test://embedded-resource", mime_type="text/plain", text="This is an embedded resource content.")
    return [EmbeddedResource(type="resource", resource=resource)]


@mcp.tool()
def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    """Returns mixed content."""
    resource = TextResourceContents(uri="test://mixed-content-resource", mime_type="application/json", text='{"test":"data","value":123}')
    return [
        TextContent(type="text", text="Multiple content types test:"),
        ImageContent(type="image", data=PNG, mime_type="image/png"),
        EmbeddedResource(type="resource", resource=resource),
    ]


@mcp.tool()
def test_error_handling() -> str:
    """Always fails."""
    raise RuntimeError("This tool intentionally returns an error for testing")


# ---- conformance fixtures: notifications while running -------------------------------------------


@mcp.tool()
async def test_tool_with_logging(ctx: Context) -> str:
    """Logs while running (delivered only to a request that opts in with `_meta` logLevel)."""
    for i, line in enumerate(["Tool execution started", "Tool processing data", "Tool execution completed"]):
        if i:
            await asyncio.sleep(0.05)
        await ctx.info(line)
    return "Tool with logging executed successfully"


@mcp.tool()
async def test_logging_tool(ctx: Context) -> str:
    """Logs once; a request that did not set a log level must see no notifications/message."""
    await ctx.info("test_logging_tool ran")
    return "logged"


@mcp.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Reports progress 0, 50, 100 of 100."""
    for i, progress in enumerate([0, 50, 100]):
        if i:
            await asyncio.sleep(0.05)
        await ctx.report_progress(progress=progress, total=100, message=f"Completed step {progress} of 100")
    meta = ctx.request_context.meta if ctx.request_context else None
    return str(meta.get("progress_token") if meta else 0)


# ---- conformance fixtures: capabilities and input-required results (SEP-2322) -------------------

NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
OK_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def ask_name(message: str = "What is your name?") -> ElicitRequest:
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=NAME_SCHEMA))


def ask_model(text: str, max_tokens: int = 100) -> CreateMessageRequest:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=text))
    return CreateMessageRequest(params=CreateMessageRequestParams(messages=[message], max_tokens=max_tokens))


def answer_field(answer: Any, field: str, default: str = "?") -> Any:
    if isinstance(answer, ElicitResult) and answer.content:
        return answer.content.get(field, default)
    return default


@mcp.tool()
async def test_missing_capability(ctx: Context) -> str:
    """Needs the client's `sampling` capability: without it, error -32021 naming it."""
    caps = ctx.client_capabilities
    if caps is None or caps.sampling is None:
        raise MCPError(
            code=MISSING_REQUIRED_CLIENT_CAPABILITY,
            message="This tool requires the client 'sampling' capability",
            data={"requiredCapabilities": {"sampling": {}}},
        )
    return "Client declared sampling capability."


@mcp.tool()
async def test_streaming_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Reports progress, then asks for a name in the result (never as a request on the stream)."""
    responses = ctx.input_responses
    if responses and "user_name" in responses:
        return f"Hello, {answer_field(responses['user_name'], 'name', 'stranger')}!"
    await ctx.report_progress(progress=1, total=2, message="about to ask")
    return InputRequiredResult(input_requests={"user_name": ask_name()})


@mcp.tool()
async def test_input_required_result_elicitation(ctx: Context) -> str | InputRequiredResult:
    """Asks for the user's name, then greets."""
    responses = ctx.input_responses
    if responses and "user_name" in responses:
        return f"Hello, {answer_field(responses['user_name'], 'name', 'stranger')}!"
    return InputRequiredResult(input_requests={"user_name": ask_name()})


@mcp.tool()
async def test_input_required_result_sampling(ctx: Context) -> str | InputRequiredResult:
    """Asks the client's model a question, then reports the answer."""
    responses = ctx.input_responses
    if responses and "capital_question" in responses:
        answer = responses["capital_question"]
        ok = isinstance(answer, CreateMessageResult) and answer.content.type == "text"
        return f"Model said: {answer.content.text if ok else '?'}"
    return InputRequiredResult(input_requests={"capital_question": ask_model("What is the capital of France?")})


@mcp.tool()
async def test_input_required_result_list_roots(ctx: Context) -> str | InputRequiredResult:
    """Asks for the client's roots, then counts them."""
    responses = ctx.input_responses
    if responses and "client_roots" in responses:
        answer = responses["client_roots"]
        return f"Client exposed {len(answer.roots) if isinstance(answer, ListRootsResult) else 0} root(s)."
    return InputRequiredResult(input_requests={"client_roots": ListRootsRequest()})


@mcp.tool()
async def test_input_required_result_request_state(ctx: Context) -> str | InputRequiredResult:
    """Round-trips requestState through the client."""
    responses = ctx.input_responses
    if responses and "confirm" in responses and ctx.request_state == "request-state-nonce":
        return "state-ok: confirmation received"
    confirm = ElicitRequest(params=ElicitRequestFormParams(message="Please confirm", requested_schema=OK_SCHEMA))
    return InputRequiredResult(input_requests={"confirm": confirm}, request_state="request-state-nonce")


@mcp.tool()
async def test_input_required_result_multiple_inputs(ctx: Context) -> str | InputRequiredResult:
    """Asks for an elicitation, a sampling and the roots at once."""
    responses = ctx.input_responses
    if responses and {"user_name", "greeting", "client_roots"} <= responses.keys():
        return "All inputs received."
    requests: dict[str, InputRequest] = {
        "user_name": ask_name(),
        "greeting": ask_model("Generate a greeting", 50),
        "client_roots": ListRootsRequest(),
    }
    return InputRequiredResult(input_requests=requests, request_state="multiple-inputs")


@mcp.tool()
async def test_input_required_result_multi_round(ctx: Context) -> str | InputRequiredResult:
    """Three rounds: a name, then a colour, then the answer; requestState carries the round."""
    state = json.loads(ctx.request_state) if ctx.request_state else {"round": 0}
    responses = ctx.input_responses or {}
    if state.get("round") == 1 and "step1" in responses:
        color = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
        step2 = ElicitRequest(params=ElicitRequestFormParams(message="Step 2: What is your favorite color?", requested_schema=color))
        return InputRequiredResult(
            input_requests={"step2": step2},
            request_state=json.dumps({"round": 2, "name": answer_field(responses["step1"], "name", None)}),
        )
    if state.get("round") == 2 and "step2" in responses:
        return f"{state.get('name')} likes {answer_field(responses['step2'], 'color', None)}."
    # The first round, or a missing or out-of-order answer: from the start.
    return InputRequiredResult(input_requests={"step1": ask_name("Step 1: What is your name?")}, request_state=json.dumps({"round": 1}))


@mcp.tool()
async def test_input_required_result_tampered_state(ctx: Context) -> str | InputRequiredResult:
    """Issues requestState; a tampered echo is refused by the SDK before this runs."""
    if ctx.request_state is None:
        confirm = ElicitRequest(params=ElicitRequestFormParams(message="Please confirm", requested_schema=OK_SCHEMA))
        return InputRequiredResult(input_requests={"confirm": confirm}, request_state="round-1")
    return f"state-ok: {ctx.request_state}"


@mcp.tool()
async def test_input_required_result_capabilities(ctx: Context) -> InputRequiredResult:
    """Asks only for what the client declared it can answer."""
    caps = ctx.client_capabilities
    requests: dict[str, InputRequest] = {}
    if caps is None or caps.sampling is not None:
        requests["sample"] = ask_model("Say hello", 50)
    if caps is None or caps.elicitation is not None:
        requests["ask"] = ask_name()
    return InputRequiredResult(input_requests=requests, request_state="capability-gated")


# ---- conformance fixtures: list-changed hooks (subscriptions/listen) ---------------------------


def _dynamic() -> str:
    """Registered and removed at once by the change hooks below."""
    return "dynamic"


@mcp.tool()
async def test_trigger_tool_change(ctx: Context) -> str:
    """Changes the tool list and says so to subscriptions/listen streams."""
    mcp.add_tool(_dynamic, name="test_dynamic_tool")
    mcp.remove_tool("test_dynamic_tool")
    await ctx.notify_tools_changed()
    return "tool list changed"


@mcp.tool()
async def test_trigger_prompt_change(ctx: Context) -> str:
    """Changes the prompt list and says so to subscriptions/listen streams."""
    mcp.add_prompt(Prompt.from_function(_dynamic, name="test_dynamic_prompt", description="dynamic"))
    mcp.remove_prompt("test_dynamic_prompt")
    await ctx.notify_prompts_changed()
    return "prompt list changed"


# ---- conformance fixtures: resources ------------------------------------------------------------


@mcp.resource("test://static-text", mime_type="text/plain")
def static_text() -> str:
    """A static text resource."""
    return "This is the content of the static text resource."


@mcp.resource("test://static-binary", mime_type="image/png")
def static_binary() -> bytes:
    """A static binary resource (a PNG)."""
    return base64.b64decode(PNG)


@mcp.resource("test://watched-resource", mime_type="text/plain")
def watched_resource() -> str:
    """A resource that can be subscribed to."""
    return "Watched resource content"


@mcp.resource("test://template/{id}/data", mime_type="application/json")
def template_resource(id: str) -> str:
    """A resource template."""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


# ---- conformance fixtures: prompts --------------------------------------------------------------


@mcp.prompt()
def test_simple_prompt() -> list[UserMessage]:
    """A simple prompt."""
    return [UserMessage(role="user", content=TextContent(type="text", text="This is a simple prompt for testing."))]


@mcp.prompt()
def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
    """A prompt with arguments."""
    return [UserMessage(role="user", content=TextContent(type="text", text=f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"))]


@mcp.prompt()
def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # noqa: N803 (the suite's name)
    """A prompt with an embedded resource."""
    resource = TextResourceContents(uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing.")
    return [
        UserMessage(role="user", content=EmbeddedResource(type="resource", resource=resource)),
        UserMessage(role="user", content=TextContent(type="text", text="Please process the embedded resource above.")),
    ]


@mcp.prompt()
def test_prompt_with_image() -> list[UserMessage]:
    """A prompt with an image."""
    return [
        UserMessage(role="user", content=ImageContent(type="image", data=PNG, mime_type="image/png")),
        UserMessage(role="user", content=TextContent(type="text", text="Please analyze the image above.")),
    ]


@mcp.prompt()
async def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
    """A prompt that first asks the user for context (an input-required result outside tools/call)."""
    responses = ctx.input_responses
    if responses and "user_context" in responses:
        text = answer_field(responses["user_context"], "context")
        return [UserMessage(role="user", content=TextContent(type="text", text=f"Use the following context: {text}"))]
    schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
    ask = ElicitRequest(params=ElicitRequestFormParams(message="What context should the prompt use?", requested_schema=schema))
    return InputRequiredResult(input_requests={"user_context": ask})


@mcp.completion()
async def complete(ref: PromptReference | ResourceTemplateReference, argument: CompletionArgument, context: CompletionContext | None) -> Completion:
    """No suggestions: an empty completion."""
    return Completion(values=[], total=0, has_more=False)


# The handshake-era methods (2026-07-28 removed them), for clients of earlier revisions.
async def _empty(ctx: ServerRequestContext, params: Any) -> EmptyResult:
    return EmptyResult()


for _method, _params in [
    ("logging/setLevel", SetLevelRequestParams),
    ("resources/subscribe", SubscribeRequestParams),
    ("resources/unsubscribe", UnsubscribeRequestParams),
]:
    mcp._lowlevel_server.add_request_handler(_method, _params, _empty)  # noqa: SLF001 (no public API yet)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "8791"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # listening before the line is printed: connections wait in the backlog
    app = mcp.streamable_http_app(stateless_http=True, host="127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    print(f"origin_2026 listening on http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
