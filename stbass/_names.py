"""Span names and attribute keys: the one place they are spelled.

Everything that emits or reads stbass spans (the core's :mod:`stbass.observe`,
the ``stbass_tracing`` toolkit, the tests) uses these constants, so a rename is
one edit. Keys live under the ``stbass.`` namespace; where an OpenTelemetry
semantic convention fits (messaging, errors, gen-ai tools) its key is set too.
"""

from __future__ import annotations

from typing import Final

TRACER_NAME: Final = "stbass"
#: the OpenTelemetry semantic conventions version the spans follow (schema URL)
SEMCONV_VERSION: Final = "1.44.0"

# span names (a prefix followed by a space and the process/channel name)
SPAN_PROCESS_PREFIX: Final = "process "
SPAN_SEND_PREFIX: Final = "send "
SPAN_RECV_PREFIX: Final = "recv "  # traces written before the 1.44 conventions
SPAN_RECEIVE_PREFIX: Final = "receive "
SPAN_TOOL_PREFIX: Final = "execute_tool "
COMPOSITIONS: Final = (
    "SEQ", "PAR", "PAR_FOR", "SEQ_FOR", "PLACED_PAR", "IF", "WHILE", "RACE", "HEDGE", "QUORUM",
)
ALT_SPANS: Final = ("ALT", "PRI_ALT")

# composition spans
COMPOSITION: Final = "stbass.composition"
CHILDREN: Final = "stbass.children"
ON_FAILURE: Final = "stbass.on_failure"
DEADLINE_S: Final = "stbass.deadline_s"
MAX_PARALLEL: Final = "stbass.max_parallel"
BRANCH: Final = "stbass.branch"  # IF: the index of the branch that ran, or "otherwise"
ITERATIONS: Final = "stbass.iterations"  # WHILE: how many times the body ran
MAX_ITERATIONS: Final = "stbass.max_iterations"
WINNER: Final = "stbass.winner"  # RACE, HEDGE: the index of the winning child
WINNERS: Final = "stbass.winners"  # QUORUM: the indices of the k winners, in completion order
CANCELLED_LOSERS: Final = "stbass.cancelled_losers"  # indices of the children cancelled as losers
QUORUM_K: Final = "stbass.quorum.k"
HEDGE_AFTER_S: Final = "stbass.hedge.after_s"
STARTED: Final = "stbass.started"  # HEDGE: how many children were started

# process spans
PROCESS_NAME: Final = "stbass.process.name"
PROCESS_ID: Final = "stbass.process.id"
OPTIONAL: Final = "stbass.optional"
PLACEMENT_MODEL: Final = "stbass.placement.model"
PLACEMENT_ENDPOINT: Final = "stbass.placement.endpoint"
PLACEMENT_BACKEND: Final = "stbass.placement.backend"
CANCELLED: Final = "stbass.cancelled"
CANCELLED_BY: Final = "stbass.cancelled.by"  # "halt" | "deadline" | "outer" | "lost"
FAILURE_SUMMARY: Final = "stbass.failure.summary"
CHILD_INDEX: Final = "stbass.child.index"  # a PAR child's position among its siblings
REPLICA_INDEX: Final = "stbass.replica.index"  # "process worker[3]" -> "process worker", 3
CHILD_FAILED: Final = "stbass.child_failed"  # a composition: a child failed (its span has the error)
ERROR_TYPE: Final = "error.type"

# channel spans
CHANNEL_NAME: Final = "stbass.channel.name"
CHANNEL_TYPE: Final = "stbass.channel.type"
MESSAGE_SEQ: Final = "stbass.message.seq"
WAIT_S: Final = "stbass.wait_s"
PAYLOAD: Final = "stbass.payload"
OUTCOME: Final = "stbass.outcome"  # "ok" | "closed" | "cancelled"
VIA_ALT: Final = "stbass.via_alt"
MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_OPERATION_NAME: Final = "messaging.operation.name"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGING_DESTINATION: Final = "messaging.destination.name"
MESSAGING_SYSTEM_VALUE: Final = "stbass"
MESSAGING_MESSAGE_ID: Final = "messaging.message.id"
MESSAGING_DESTINATION_TEMPLATE: Final = "messaging.destination.template"
MESSAGING_DESTINATION_ANONYMOUS: Final = "messaging.destination.anonymous"
ANONYMOUS_DESTINATION: Final = "(anonymous)"  # the span-name destination of chan-N
PLUMBING: Final = "stbass.plumbing"  # SEQ's own <stage>.input/.output channels

# ALT spans
ALT_KIND: Final = "stbass.alt.kind"  # "fair" | "priority"
ALT_GUARDS: Final = "stbass.alt.guards"
ALT_ENABLED: Final = "stbass.alt.enabled"
ALT_READY: Final = "stbass.alt.ready"
ALT_CHOSEN: Final = "stbass.alt.chosen"
ALT_CHOSEN_KIND: Final = "stbass.alt.chosen_kind"  # "recv" | "send" | "timer" | "skip"
ALT_CHOSEN_NAME: Final = "stbass.alt.chosen_name"

# timer events
EVENT_TIMER_EXPIRED: Final = "timer.expired"
TIMER_NAME: Final = "stbass.timer.name"
TIMER_ELAPSED_S: Final = "stbass.timer.elapsed_s"

# MCP tool spans (gen-ai semantic conventions)
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
MCP_TRANSPORT: Final = "stbass.mcp.transport"  # "streamable-http" | "sse" | "stdio"
MCP_SHARED_SESSION: Final = "stbass.mcp.shared_session"  # True inside MCPServer.connect()

# DAG spans (stbass.dag): one "DAG" span, a span per task under it (a process
# or a composition) carrying DAG_TASK
DAG_NAME: Final = "stbass.dag.name"
DAG_RUN_ID: Final = "stbass.dag.run_id"
DAG_EDGES: Final = "stbass.dag.edges"  # ["dependency -> task", ...]
DAG_RESUMED: Final = "stbass.dag.resumed"  # how many tasks came from the state file
DAG_TASK: Final = "stbass.dag.task"
EVENT_DAG_TASK_RESUMED: Final = "dag.task.resumed"
EVENT_DAG_TASK_SKIPPED: Final = "dag.task.skipped"

# stream pipeline spans (stbass.streams): one "pipeline" span, a process span per operator
PIPELINE_STAGES: Final = "stbass.pipeline.stages"
PIPELINE_ITEMS: Final = "stbass.pipeline.items"
PIPELINE_STAGE: Final = "stbass.pipeline.stage"
PIPELINE_ON_ERROR: Final = "stbass.pipeline.on_error"
PIPELINE_ITEM: Final = "stbass.pipeline.item"
EVENT_PIPELINE_ITEM_FAILED: Final = "pipeline.item.failed"

# actors (stbass.actors): "tell <actor>" / "ask <actor>" producer spans, each
# linked from the "handle <MessageType>" span inside the actor's process span
SPAN_TELL_PREFIX: Final = "tell "
SPAN_ASK_PREFIX: Final = "ask "
SPAN_HANDLE_PREFIX: Final = "handle "
ACTOR_NAME: Final = "stbass.actor.name"
ACTOR_HANDLER: Final = "stbass.actor.handler"
ACTOR_ASK: Final = "stbass.actor.ask"  # True when the handled message came by ask
MESSAGE_TYPE: Final = "stbass.message.type"

# buffered channels: values in the buffer right after a send completed
CHANNEL_BUFFERED: Final = "stbass.channel.buffered"
