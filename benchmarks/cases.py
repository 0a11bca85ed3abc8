"""The in-process benchmark cases.

Each case is an ``async`` function that builds what it needs, times only the work
being measured with ``time.perf_counter`` and returns a number (seconds, or a
fraction for the idle-CPU case). ``benchmarks.run`` runs each one in a fresh
``anyio.run`` per repeat, interleaving the variants.

The channel variants share one interface (:class:`Endpoints`: bound ``send`` and
``recv`` methods, so no wrapper sits on the hot path):

* ``stbass`` — :class:`stbass.Chan`
* ``anyio`` — ``anyio.create_memory_object_stream(0)``
* ``trio`` — ``trio.open_memory_channel(0)`` (trio only)
* ``asyncio.Queue(1)`` — (asyncio only; a one-slot queue, not a rendezvous)
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from stbass import ALT, PAR, QUORUM, RACE, Chan, Process, observe

from stbass.replicator import PAR_FOR

Send = Callable[[Any], Awaitable[None]]
Recv = Callable[[], Awaitable[Any]]

#: the clock the cases time with; ``benchmarks.run`` sets it (``--clock``)
perf: Callable[[], float] = time.perf_counter


class Endpoints:
    """The two ends of one channel of some kind, plus how to dispose of it."""

    __slots__ = ("send", "recv", "_close")

    def __init__(self, send: Send, recv: Recv, close: Callable[[], None]) -> None:
        self.send = send
        self.recv = recv
        self._close = close

    def close(self) -> None:
        self._close()


def _nothing() -> None:
    pass


def make_stbass() -> Endpoints:
    ch = Chan(int, name="bench")
    return Endpoints(ch.send, ch.recv, ch.close)


def make_anyio() -> Endpoints:
    s, r = anyio.create_memory_object_stream[int](0)

    def close() -> None:
        s.close()
        r.close()

    return Endpoints(s.send, r.receive, close)


def make_trio() -> Endpoints:
    import trio

    s, r = trio.open_memory_channel[int](0)

    def close() -> None:
        s.close()
        r.close()

    return Endpoints(s.send, r.receive, close)


def make_queue() -> Endpoints:
    import asyncio

    q: asyncio.Queue[int] = asyncio.Queue(1)
    return Endpoints(q.put, q.get, _nothing)


Maker = Callable[[], Endpoints]


def channel_variants(backend: str) -> dict[str, Maker]:
    """stbass, raw anyio and the backend's native primitive, in that order."""
    variants: dict[str, Maker] = {"stbass": make_stbass, "anyio": make_anyio}
    if backend == "trio":
        variants["trio"] = make_trio
    else:
        variants["asyncio.Queue(1)"] = make_queue
    return variants


# ------------------------------------------------------------------ ping-pong


async def pingpong(make: Maker, messages: int) -> float:
    """``messages`` one-way transfers: ints go out on one channel and are echoed
    back on another (``messages // 2`` round trips). Returns seconds."""
    a, b = make(), make()
    rounds = messages // 2

    async def echo() -> None:
        recv, send = a.recv, b.send
        for _ in range(rounds):
            await send(await recv())

    t0 = perf()
    async with anyio.create_task_group() as tg:
        tg.start_soon(echo)
        send, recv = a.send, b.recv
        for i in range(rounds):
            await send(i)
            await recv()
    elapsed = perf() - t0
    a.close()
    b.close()
    return elapsed


async def stream(make: Maker, messages: int) -> float:
    """One producer sends ``messages`` ints to one consumer. Returns seconds."""
    ep = make()

    async def produce() -> None:
        send = ep.send
        for i in range(messages):
            await send(i)

    t0 = perf()
    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        recv = ep.recv
        for _ in range(messages):
            await recv()
    elapsed = perf() - t0
    ep.close()
    return elapsed


async def pipeline(make: Maker, messages: int) -> float:
    """producer -> relay -> consumer over two channels. Returns seconds."""
    first, second = make(), make()

    async def produce() -> None:
        send = first.send
        for i in range(messages):
            await send(i)

    async def relay() -> None:
        recv, send = first.recv, second.send
        for _ in range(messages):
            await send(await recv())

    t0 = perf()
    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        tg.start_soon(relay)
        recv = second.recv
        for _ in range(messages):
            await recv()
    elapsed = perf() - t0
    first.close()
    second.close()
    return elapsed


async def pairs(make: Maker, n_pairs: int, per_pair: int) -> float:
    """``n_pairs`` independent producer/consumer pairs, ``per_pair`` messages each,
    all released at once after every task has started. Returns seconds."""
    eps = [make() for _ in range(n_pairs)]
    go = anyio.Event()

    async def produce(ep: Endpoints) -> None:
        await go.wait()
        send = ep.send
        for i in range(per_pair):
            await send(i)

    async def consume(ep: Endpoints) -> None:
        await go.wait()
        recv = ep.recv
        for _ in range(per_pair):
            await recv()

    async with anyio.create_task_group() as tg:
        for ep in eps:
            tg.start_soon(produce, ep)
            tg.start_soon(consume, ep)
        await anyio.wait_all_tasks_blocked()
        t0 = perf()
        go.set()
    elapsed = perf() - t0
    for ep in eps:
        ep.close()
    return elapsed


# ------------------------------------------------------------------------ ALT


async def alt_pingpong(messages: int, use_alt: bool) -> float:
    """Ping-pong where every receive is an ALT over the data channel and an idle
    one (``use_alt``) or a plain ``recv``. Returns seconds."""
    ping, pong = Chan(int, name="ping"), Chan(int, name="pong")
    idle1, idle2 = Chan(int, name="idle1"), Chan(int, name="idle2")
    get_ping: Recv = ALT(ping, idle1).select if use_alt else ping.recv
    get_pong: Recv = ALT(pong, idle2).select if use_alt else pong.recv
    rounds = messages // 2

    async def echo() -> None:
        send = pong.send
        for _ in range(rounds):
            await send(await get_ping())

    t0 = perf()
    async with anyio.create_task_group() as tg:
        tg.start_soon(echo)
        send = ping.send
        for i in range(rounds):
            await send(i)
            await get_pong()
    return perf() - t0


async def alt_stream(messages: int, use_alt: bool) -> float:
    """One producer, one consumer that receives with ALT over the data channel and
    an idle one (``use_alt``) or with a plain ``recv``. Returns seconds."""
    data, idle = Chan(int, name="data"), Chan(int, name="idle")
    get: Recv = ALT(data, idle).select if use_alt else data.recv

    async def produce() -> None:
        send = data.send
        for i in range(messages):
            await send(i)

    t0 = perf()
    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        for _ in range(messages):
            await get()
    return perf() - t0


async def idle_cpu(seconds: float, with_alt: bool) -> float:
    """Fraction of one core the process uses over ``seconds`` of wall time while
    one ALT over two silent channels waits (``with_alt``), or while nothing does."""
    a, b = Chan(int, name="a"), Chan(int, name="b")

    async def waiter() -> None:
        await ALT(a, b)

    async with anyio.create_task_group() as tg:
        if with_alt:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
        c0, w0 = time.process_time(), time.perf_counter()
        await anyio.sleep(seconds)
        c1, w1 = time.process_time(), time.perf_counter()
        tg.cancel_scope.cancel()
    return (c1 - c0) / (w1 - w0)


# ------------------------------------------------------------------- spawning


@Process
async def trivial(ctx: Any) -> None:
    """A process that does nothing."""


async def _noop() -> None:
    pass


async def spawn_par(n: int) -> float:
    procs = [trivial] * n
    t0 = perf()
    result = await PAR(*procs).run()
    elapsed = perf() - t0
    assert result.is_ok and len(result.results) == n
    return elapsed


async def _body(index: int, ctx: Any) -> int:
    return index


async def spawn_par_for(n: int) -> float:
    t0 = perf()
    result = await PAR_FOR(n, _body).run()
    elapsed = perf() - t0
    assert result.is_ok and len(result.results) == n
    return elapsed


async def spawn_anyio(n: int) -> float:
    t0 = perf()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(_noop)
    return perf() - t0


async def spawn_native(n: int) -> float:
    """A native trio nursery or ``asyncio.TaskGroup``."""
    import sniffio

    t0 = perf()
    if sniffio.current_async_library() == "trio":
        import trio

        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(_noop)
    else:
        import asyncio

        async with asyncio.TaskGroup() as group:
            for _ in range(n):
                group.create_task(_noop())
    return perf() - t0


def spawn_variants(backend: str) -> dict[str, Callable[[int], Awaitable[float]]]:
    variants: dict[str, Callable[[int], Awaitable[float]]] = {
        "PAR": spawn_par,
        "PAR_FOR": spawn_par_for,
    }
    variants["anyio start_soon"] = spawn_anyio
    variants["trio nursery" if backend == "trio" else "asyncio.TaskGroup"] = spawn_native
    return variants


# ---------------------------------------------------------- RACE / QUORUM


@Process
async def one_checkpoint(ctx: Any) -> None:
    """A process that yields to the scheduler once: every child of a RACE of
    these has begun when the first one finishes, so the RACE cancels the rest."""
    await anyio.lowlevel.checkpoint()


#: the children of the choice benchmark: name -> process
CHOICE_CHILDREN: dict[str, Process] = {"trivial": trivial, "one checkpoint": one_checkpoint}


def choice_composition(kind: str, n: int, child: str = "trivial") -> Any:
    """``PAR``, ``RACE`` or ``QUORUM`` (majority: ``k = n // 2 + 1``) of *n*
    copies of the child named *child* (see :data:`CHOICE_CHILDREN`)."""
    procs = [CHOICE_CHILDREN[child]] * n
    if kind == "PAR":
        return PAR(*procs)
    if kind == "RACE":
        return RACE(*procs)
    return QUORUM(n // 2 + 1, *procs)


async def choice_case(kind: str, n: int, runs: int, child: str = "trivial") -> float:
    """*runs* runs of a composition of *n* children (:func:`choice_composition`).
    Seconds for all the runs."""
    composition = choice_composition(kind, n, child)
    t0 = perf()
    for _ in range(runs):
        result = await composition.run()
    elapsed = perf() - t0
    assert result.is_ok and len(result.results) == n
    return elapsed


async def choice_interleaved(
    n: int, runs: int, chunks: int, child: str = "trivial", rotate: int = 0
) -> dict[str, float]:
    """*runs* runs of each of :data:`CHOICE_KINDS` over *n* children, in one
    event loop and interleaved: the runs are cut into *chunks* slices, and each
    slice runs every kind once, in an order that rotates from slice to slice
    (starting at *rotate*). A burst of load from other processes lands on every
    kind alike, so the ratio of the totals is steadier than the ratio of
    separate runs. Seconds per kind for all its runs."""
    compositions = {kind: choice_composition(kind, n, child) for kind in CHOICE_KINDS}
    totals = dict.fromkeys(CHOICE_KINDS, 0.0)
    kinds = list(CHOICE_KINDS)
    per_chunk, extra = divmod(runs, chunks)
    for c in range(chunks):
        k = (rotate + c) % len(kinds)
        count = per_chunk + (c < extra)
        for kind in kinds[k:] + kinds[:k]:
            run = compositions[kind].run
            t0 = perf()
            for _ in range(count):
                result = await run()
            totals[kind] += perf() - t0
            assert result.is_ok and len(result.results) == n
    return totals


#: the variants of :func:`choice_case`, PAR first (the ratios are against it)
CHOICE_KINDS = ("PAR", "RACE", "QUORUM")


# -------------------------------------------------------------------- tracing


def make_provider() -> tuple[Any, Any]:
    """An SDK TracerProvider whose one span processor only counts ended spans."""
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    class CountingProcessor(SpanProcessor):
        def __init__(self) -> None:
            self.ended = 0

        def on_end(self, span: Any) -> None:
            self.ended += 1

    processor = CountingProcessor()
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, processor


@contextmanager
def instrumentation_short_circuited() -> Iterator[None]:
    """Replace ``stbass.observe.active_tracer`` by the cheapest possible ``None``
    (this benchmark only): what the channels would cost with no hook at all."""
    saved = observe.active_tracer
    observe.active_tracer = lambda: None
    try:
        yield
    finally:
        observe.active_tracer = saved


async def traced_pipeline(messages: int, mode: str, spans: list[int] | None = None) -> float:
    """The stbass pipeline with no SDK (``"off"``), with the hook short-circuited
    (``"bare"``) or with an SDK provider (``"on"``: inside one parent span, as
    in a process, every span delivered through ``stbass_tracing``'s delivering
    processor to a counting exporter, the flush included in the time; the
    number of spans delivered is appended to *spans*). Returns seconds."""
    if mode == "bare":
        with instrumentation_short_circuited():
            return await pipeline(make_stbass, messages)
    if mode == "on":
        from opentelemetry.sdk.trace import TracerProvider

        from stbass_tracing import DeliveringSpanProcessor

        exporter = CountingExporter()
        processor = DeliveringSpanProcessor(exporter)  # type: ignore[arg-type]
        provider = TracerProvider()
        provider.add_span_processor(processor)
        with observe.use_tracer_provider(provider):
            with provider.get_tracer("bench").start_as_current_span("pipeline"):
                t0 = perf()
                await pipeline(make_stbass, messages)
            processor.force_flush()
            elapsed = perf() - t0
        if spans is not None:
            spans.append(exporter.exported - 1)
        provider.shutdown()
        return elapsed
    assert mode == "off"
    return await pipeline(make_stbass, messages)


class CountingExporter:
    """A span exporter that only counts what it is given (the cost of delivery
    up to the wire: the queue, the batches, building the ``ReadableSpan``\\ s)."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


async def _pingpong_par(messages: int) -> float:
    """Two processes in a PAR, ping and pong channels. Returns seconds."""
    from stbass import PAR, Process, ProcessContext, ProcessResult

    ping, pong = Chan(int, name="ping"), Chan(int, name="pong")

    @Process
    async def pinger(ctx: ProcessContext) -> ProcessResult[int]:
        for i in range(messages):
            await ping.send(i)
            await pong.recv()
        return ProcessResult.ok(messages)

    @Process
    async def ponger(ctx: ProcessContext) -> ProcessResult[int]:
        for _ in range(messages):
            await pong.send(await ping.recv())
        return ProcessResult.ok(messages)

    t0 = perf()
    result = await PAR(pinger, ponger).run()
    elapsed = perf() - t0
    assert result.is_ok
    return elapsed


#: the variants of :func:`traced_pingpong`
PINGPONG_TRACE_MODES = ("bare", "off", "on", "unsampled")


async def traced_pingpong(messages: int, mode: str, delivered: list[int] | None = None) -> float:
    """A PAR ping-pong (4 channel spans per round trip) with the hook
    short-circuited (``"bare"``), no SDK (``"off"``), every span delivered
    through ``stbass_tracing``'s delivering processor to a counting exporter
    (``"on"``, the time includes the flush), or a parent-based ratio sampler at
    0 (``"unsampled"``). Returns seconds."""
    if mode == "bare":
        with instrumentation_short_circuited():
            return await _pingpong_par(messages)
    if mode == "off":
        return await _pingpong_par(messages)
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    from stbass_tracing import DeliveringSpanProcessor

    exporter = CountingExporter()
    processor = DeliveringSpanProcessor(exporter)  # type: ignore[arg-type]
    provider = TracerProvider(
        sampler=ParentBasedTraceIdRatio(0.0) if mode == "unsampled" else None
    )
    provider.add_span_processor(processor)
    with observe.use_tracer_provider(provider):
        t0 = perf()
        await _pingpong_par(messages)
        processor.force_flush()
        elapsed = perf() - t0
    provider.shutdown()
    if delivered is not None:
        delivered.append(exporter.exported)
    return elapsed


async def sdk_span_cost(count: int, equivalent: bool) -> float:
    """Seconds per span the SDK itself takes (same provider set-up as "on").

    ``equivalent=False``: one span with 3 attributes, the reference of SPEC §10.
    ``equivalent=True``: a span shaped like a stbass channel span (6 attributes
    at start, 3 set afterwards).
    """
    provider, _ = make_provider()
    tracer = provider.get_tracer("bench")
    if not equivalent:
        attrs: dict[str, Any] = {"a": 1, "b": "two", "c": 3.0}
        t0 = perf()
        for _ in range(count):
            tracer.start_span("reference", attributes=attrs).end()
        elapsed = perf() - t0
    else:
        attrs = {
            "stbass.channel.name": "bench",
            "stbass.channel.type": "int",
            "messaging.system": "stbass",
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.destination.name": "bench",
        }
        t0 = perf()
        for i in range(count):
            span = tracer.start_span("send bench", attributes=attrs)
            span.set_attribute("stbass.message.seq", i)
            span.set_attribute("stbass.outcome", "ok")
            span.set_attribute("stbass.wait_s", 0.0)
            span.end()
        elapsed = perf() - t0
    provider.shutdown()
    await anyio.lowlevel.checkpoint()
    return elapsed / count


# -------------------------------------------------------------- streams and DAG


async def _work(x: int) -> int:
    """The mapped function: one scheduler turn, like a tiny awaited call."""
    await anyio.lowlevel.checkpoint()
    return x


async def stream_map_stbass(n: int, k: int) -> float:
    """``pipeline(range(n), map(_work, max_parallel=k))``, ordered."""
    from stbass.streams import map as smap
    from stbass.streams import pipeline

    p = pipeline(range(n), smap(_work, max_parallel=k))
    t0 = perf()
    result = await p.run()
    elapsed = perf() - t0
    assert result.is_ok and len(result.value) == n
    return elapsed


async def stream_map_aiostream(n: int, k: int) -> float:
    """aiostream's ``pipe.map(_work, task_limit=k)`` (ordered; asyncio only)."""
    from aiostream import pipe, stream

    work: Any = _work
    xs: Any = stream.iterate(range(n)) | pipe.map(work, task_limit=k, ordered=True)
    t0 = perf()
    items: list[Any] = await stream.list(xs)
    elapsed = perf() - t0
    assert len(items) == n
    return elapsed


def _trivial_task(_: Any) -> None:
    return None


async def dag_flat(n: int) -> float:
    """A DAG of *n* independent trivial tasks (function tasks)."""
    from stbass.dag import DAG

    dag = DAG("bench")
    for i in range(n):
        dag.add(f"t{i}", _trivial_task)
    t0 = perf()
    result = await dag.run()
    elapsed = perf() - t0
    assert result.is_ok and len(result.values) == n
    return elapsed


async def dag_flat_processes(n: int) -> float:
    """A DAG of *n* independent trivial tasks given as the same Process."""
    from stbass.dag import DAG

    dag = DAG("bench")
    for i in range(n):
        dag.add(f"t{i}", trivial)
    t0 = perf()
    result = await dag.run()
    elapsed = perf() - t0
    assert result.is_ok and len(result.values) == n
    return elapsed

# ------------------------------------------------------- buffers and actors


def make_stbass_buffered(capacity: int = 64) -> Endpoints:
    ch = Chan(int, name="bench", capacity=capacity)
    return Endpoints(ch.send, ch.recv, ch.close)


def make_anyio_buffered(capacity: int = 64) -> Endpoints:
    s, r = anyio.create_memory_object_stream[int](capacity)

    def close() -> None:
        s.close()
        r.close()

    return Endpoints(s.send, r.receive, close)


def make_trio_buffered(capacity: int = 64) -> Endpoints:
    import trio

    s, r = trio.open_memory_channel[int](capacity)

    def close() -> None:
        s.close()
        r.close()

    return Endpoints(s.send, r.receive, close)


def make_queue_buffered(capacity: int = 64) -> Endpoints:
    import asyncio

    q: asyncio.Queue[int] = asyncio.Queue(capacity)
    return Endpoints(q.put, q.get, _nothing)


def buffered_variants(backend: str) -> dict[str, Maker]:
    """64-place buffers: stbass, anyio's memory stream, the backend's own."""
    variants: dict[str, Maker] = {
        "stbass Chan(capacity=64)": make_stbass_buffered,
        "anyio stream(max_buffer_size=64)": make_anyio_buffered,
    }
    if backend == "trio":
        variants["trio channel(64)"] = make_trio_buffered
    else:
        variants["asyncio.Queue(64)"] = make_queue_buffered
    return variants


def _sink_actor(mailbox: int) -> Any:
    from stbass.actors import Actor, handles

    class Sink(Actor):
        def __init__(self) -> None:
            super().__init__(mailbox=mailbox)

        @handles(int)
        async def take(self, n: int) -> int:
            return n

    return Sink()


async def tell_stream(messages: int, mailbox: int = 64) -> float:
    """``messages`` tells to an actor with a trivial handler, until it handled
    them all. Returns seconds (compare with :func:`stream`)."""
    actor = _sink_actor(mailbox)
    t0 = perf()
    async with actor.start() as ref:
        tell = ref.tell
        for i in range(messages):
            await tell(i)
    elapsed = perf() - t0
    assert ref.handled == messages
    return elapsed


async def ask_roundtrips(rounds: int) -> float:
    """``rounds`` asks answered by a trivial handler. Returns seconds (compare
    with :func:`pingpong` over ``2 * rounds`` messages)."""
    actor = _sink_actor(64)
    t0 = perf()
    async with actor.start() as ref:
        ask = ref.ask
        for i in range(rounds):
            await ask(i)
    return perf() - t0
