"""Tools for testing stbass programs, and for law-checking your own processes.

Like ``trio.testing``: hypothesis strategies for process *terms*
(:func:`terms`, :func:`leaf_terms`), the term language itself (:class:`Leaf`,
:class:`Tag`, :class:`Fail`, :class:`Skip`, :class:`Idx`, :class:`Opt`,
:class:`Seq`, :class:`Par`, :class:`Alt`, :class:`ParFor`, :class:`SeqFor`,
:class:`If`, :class:`While`, :class:`Race`, :class:`Hedge`, :class:`Quorum`,
with :class:`Inc` and :class:`Below` for terminating loops),
a reference interpreter (:func:`model`), helpers that run a term or any process on
the current backend and compare outcomes (:func:`run_term`,
:func:`run_process`, :func:`check_term`, :func:`assert_equivalent`), a span
recorder (:func:`record_spans`) and a :class:`Sequencer`.

>>> from stbass.testing import Seq, Tag, model
>>> model(Seq(Tag('a'), Tag('b')), input_value=0)
frozenset({Outcome.ok(((0, 'a'), 'b'))})

The strategies need ``hypothesis`` (a test dependency); everything else does not.
The span recorder needs ``opentelemetry-sdk``.
"""

from ._terms import ALT_ALL_FAILED as ALT_ALL_FAILED
from ._terms import CANCELLED_BY_DEADLINE as CANCELLED_BY_DEADLINE
from ._terms import CANCELLED_BY_HALT as CANCELLED_BY_HALT
from ._terms import HEDGE_LONG as HEDGE_LONG
from ._terms import IF_NO_BRANCH as IF_NO_BRANCH
from ._terms import WHILE_MAX_ITERATIONS as WHILE_MAX_ITERATIONS
from ._terms import Alt as Alt
from ._terms import Below as Below
from ._terms import Fail as Fail
from ._terms import Hedge as Hedge
from ._terms import If as If
from ._terms import Inc as Inc
from ._terms import Idx as Idx
from ._terms import Leaf as Leaf
from ._terms import Opt as Opt
from ._terms import Outcome as Outcome
from ._terms import Par as Par
from ._terms import ParFor as ParFor
from ._terms import Quorum as Quorum
from ._terms import Race as Race
from ._terms import Seq as Seq
from ._terms import SeqFor as SeqFor
from ._terms import Skip as Skip
from ._terms import Tag as Tag
from ._terms import Term as Term
from ._terms import TermError as TermError
from ._terms import While as While

from ._terms import UserLeaf as UserLeaf
from ._terms import assert_equivalent as assert_equivalent
from ._terms import equivalent_once as equivalent_once
from ._terms import leaf as leaf
from ._terms import can_fail as can_fail
from ._terms import check_term as check_term
from ._terms import error_label as error_label
from ._terms import failure_status as failure_status
from ._terms import freeze as freeze
from ._terms import is_deterministic as is_deterministic
from ._terms import model as model
from ._terms import run_process as run_process
from ._terms import run_term as run_term
from ._terms import with_policy as with_policy
from ._explore import ScheduleFailure as ScheduleFailure
from ._explore import explore as explore
from ._tools import Sequencer as Sequencer
from ._tools import Waiting as Waiting
from ._tools import blocked as blocked
from ._tools import SpanRecorder as SpanRecorder
from ._tools import record_spans as record_spans
from ._tools import wait_all_tasks_blocked as wait_all_tasks_blocked

try:
    from ._strategies import choice_terms as choice_terms

    from ._strategies import check_laws as check_laws
    from ._strategies import leaf_terms as leaf_terms
    from ._strategies import predicates as predicates
    from ._strategies import terms as terms
except ImportError as _exc:  # pragma: no cover - hypothesis is a test dependency
    _missing = _exc

    def leaf_terms(*args: object, **kwargs: object) -> object:  # type: ignore[misc]
        """Needs hypothesis (``pip install hypothesis``)."""
        raise ImportError("stbass.testing.leaf_terms needs hypothesis") from _missing

    def terms(*args: object, **kwargs: object) -> object:  # type: ignore[misc]
        """Needs hypothesis (``pip install hypothesis``)."""
        raise ImportError("stbass.testing.terms needs hypothesis") from _missing

    def choice_terms(*args: object, **kwargs: object) -> object:  # type: ignore[misc]
        """Needs hypothesis (``pip install hypothesis``)."""
        raise ImportError("stbass.testing.choice_terms needs hypothesis") from _missing

    def predicates(*args: object, **kwargs: object) -> object:  # type: ignore[misc]
        """Needs hypothesis (``pip install hypothesis``)."""
        raise ImportError("stbass.testing.predicates needs hypothesis") from _missing

    def check_laws(*args: object, **kwargs: object) -> None:  # type: ignore[misc]
        """Needs hypothesis (``pip install hypothesis``)."""
        raise ImportError("stbass.testing.check_laws needs hypothesis") from _missing


__all__ = (
    "ALT_ALL_FAILED",
    "CANCELLED_BY_DEADLINE",
    "CANCELLED_BY_HALT",
    "HEDGE_LONG",
    "IF_NO_BRANCH",
    "WHILE_MAX_ITERATIONS",
    "Alt",
    "Below",
    "Fail",
    "Hedge",
    "If",
    "Inc",
    "Idx",
    "Leaf",
    "Opt",
    "Outcome",
    "Par",
    "ParFor",
    "Quorum",
    "Race",
    "Seq",
    "ScheduleFailure",
    "SeqFor",
    "Sequencer",
    "Skip",
    "SpanRecorder",
    "Tag",
    "Term",
    "TermError",
    "While",

    "UserLeaf",
    "Waiting",
    "assert_equivalent",
    "blocked",
    "can_fail",
    "choice_terms",

    "check_laws",
    "check_term",
    "equivalent_once",
    "error_label",
    "explore",
    "failure_status",
    "freeze",
    "is_deterministic",
    "leaf",
    "leaf_terms",
    "model",
    "predicates",
    "record_spans",
    "run_process",
    "run_term",
    "terms",
    "wait_all_tasks_blocked",
    "with_policy",
)
